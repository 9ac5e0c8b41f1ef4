/**
 * The one place that turns errors into what users see: a line with what went wrong, a line with
 * what to do, and the exit code; or {"error":{...}} with --json. Stack traces only with VELO_DEBUG=1.
 * Shared by the oclif commands and the fast path in bin/run.js.
 */
import {VeloError, toUserError} from '../util/errors.js'

interface OclifLikeError {
  oclif?: {exit?: number}
  message?: string
}

export function normalizeError(err: unknown): VeloError {
  const o = err as OclifLikeError
  if (!(err instanceof VeloError) && o?.oclif && typeof o.message === 'string') {
    const first = o.message.split('\n')[0].replace(/^Error: /, '')
    return new VeloError('ERR_VELO_USAGE', first, {hint: 'see velo help COMMAND'})
  }
  return toUserError(err)
}

export function reportError(err: unknown, json: boolean): number {
  const e = normalizeError(err)
  if (json) {
    process.stdout.write(JSON.stringify({error: e.toJSON()}) + '\n')
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
