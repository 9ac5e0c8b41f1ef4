/**
 * The one place that turns errors into what users see: a line with what went wrong, a line with
 * what to do, and the exit code; or, with --json, one line {"type":"error","exitCode":N,"error":{...}}
 * on stdout. Stack traces only with VELO_DEBUG=1. Used by BaseCommand.catch (every command), by
 * bin/run.js for errors outside a command (unknown commands, a failing help) and by the fast path
 * of `velo snapshot`. Codes and exit codes: docs/exit-codes.md.
 */
import {VeloError, toUserError} from '../util/errors.js'

interface OclifLikeError {
  oclif?: {exit?: number}
  message?: string
  code?: string
  args?: {name: string}[]
}

export interface ErrorContext {
  /** The command that failed, as typed (`ref set`), for the usage hint. */
  command?: string
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g

/** Turns an oclif parse or command error into a one-line usage message. */
function usageMessage(o: OclifLikeError): string {
  const text = (o.message ?? '').replace(ANSI, '')
  if (/^Missing \d+ required arg/.test(text) && Array.isArray(o.args) && o.args.length > 0) {
    return `missing required argument${o.args.length > 1 ? 's' : ''} ${o.args.map((a) => a.name.toUpperCase()).join(' ')}`
  }
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^See more help with/.test(l) && !/^Note: /.test(l) && !/^Alternatively, /.test(l))
  let msg = lines.join(' ').replace(/^Error: /, '').replace(/:$/, '')
  msg = msg.replace(/^The following errors? occurred: /, '')
  return msg.charAt(0).toLowerCase() + msg.slice(1)
}

export function normalizeError(err: unknown, ctx: ErrorContext = {}): VeloError {
  const o = err as OclifLikeError
  if (!(err instanceof VeloError) && o?.oclif && typeof o.message === 'string') {
    const unknown = /^command (\S+) not found/i.exec(o.message)
    if (unknown) return unknownCommand(unknown[1], [])
    return new VeloError('ERR_VELO_USAGE', usageMessage(o), {
      hint: ctx.command ? `see velo help ${ctx.command}` : 'see velo help',
    })
  }
  return toUserError(err)
}

function editDistance(a: string, b: string): number {
  const d = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]
    d[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return d[b.length]
}

/** `velo nosuch`: usage error naming the closest command, if one is close. */
export function unknownCommand(id: string, commandIds: string[]): VeloError {
  const typed = id.replace(/:/g, ' ')
  const names = commandIds.map((c) => c.replace(/:/g, ' '))
  let best: string | undefined
  let bestD = Infinity
  for (const n of names) {
    const d = Math.min(editDistance(typed, n), n.startsWith(typed + ' ') ? 1 : Infinity)
    if (d < bestD) {
      bestD = d
      best = n
    }
  }
  const close = best !== undefined && bestD <= Math.max(2, Math.floor(typed.length / 3))
  return new VeloError('ERR_VELO_USAGE', `unknown command ${JSON.stringify(typed)}`, {
    hint: close ? `did you mean velo ${best}? (velo help lists every command)` : 'velo help lists every command',
  })
}

export function errorJson(e: VeloError): {type: 'error'; exitCode: number; error: ReturnType<VeloError['toJSON']>} {
  return {type: 'error', exitCode: e.exitCode, error: e.toJSON()}
}

/** Prints the error (stderr, or one JSON line on stdout) and returns the exit code. */
export function reportError(err: unknown, json: boolean, ctx: ErrorContext = {}): number {
  const e = normalizeError(err, ctx)
  if (json) {
    process.stdout.write(JSON.stringify(errorJson(e)) + '\n')
  } else {
    process.stderr.write(`velo: error: ${e.message}\n`)
    if (e.hint) process.stderr.write(`hint: ${e.hint}\n`)
  }
  if (process.env.VELO_DEBUG === '1') {
    const cause = (err as {cause?: unknown}).cause
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`)
    if (cause) process.stderr.write(`cause: ${(cause as Error)?.stack ?? String(cause)}\n`)
  }
  return e.exitCode
}

export function warn(msg: string): void {
  process.stderr.write(`velo: warning: ${msg}\n`)
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`
}
