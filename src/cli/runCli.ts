/**
 * `velo run` without oclif (bin/run.js routes here; the overhead of a run is the point) and the
 * rendering shared with the oclif command. The command's stdout goes to velo's stdout (to stderr
 * with --json, whose stdout carries only JSON lines), its stderr to stderr, both live. velo's own
 * lines (warnings, the summary) go to stderr, or as JSON lines to stdout with --json. The exit
 * code is the command's (128+N for signal N, 130 when interrupted).
 */
import {parseArgs} from 'node:util'
import {run, type RunResult} from '../api/run.js'
import {Repository} from '../repo/Repository.js'
import {writeJsonLine} from '../ui/jsonLines.js'
import {VeloError} from '../util/errors.js'
import {reportError, warn} from './output.js'

export interface RunCliArgs {
  argv: string[]
  repo?: string
  ref?: string
  in?: string
  env: string[]
  cwd?: string
  materialize: boolean
  sign: boolean
  json: boolean
  quiet: boolean
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms / 1000)} s`
}

export function renderRun(r: RunResult): string {
  const rec = r.record
  const how = rec.interrupted ? 'interrupted' : rec.signal ? `killed by ${rec.signal}` : `exit ${rec.exitCode}`
  const c = r.changes
  return `velo: run ${r.id.slice(0, 12)} on ${r.ref}: ${how} after ${seconds(rec.duration)}; ${c.added} added, ${c.modified} modified, ${c.deleted} deleted${c.typeChanged ? `, ${c.typeChanged} type changed` : ''}${rec.trace ? `; ${rec.trace.count} files accessed` : ''}${rec.signature ? '; signed' : ''}\nvelo: output ${rec.output}\n${r.id}`
}

export function runJson(r: RunResult): Record<string, unknown> {
  return {type: 'summary', id: r.id, ref: r.ref, exitCode: r.exitCode, changes: r.changes, timings: r.timings, record: r.record}
}

/**
 * Interrupts: the first SIGINT, SIGTERM or SIGHUP is passed to the command (its process group), which is then
 * recorded as interrupted; later ones only say that velo is finishing the record.
 */
function interruptController(json: boolean): {signal: AbortSignal; dispose(): void} {
  const ac = new AbortController()
  const on = (sig: NodeJS.Signals): void => {
    if (!ac.signal.aborted) ac.abort(sig)
    else if (!json) warn('already interrupted: velo is finishing what it writes (the output snapshot and the record, marked interrupted; nothing if the command had not started)')
  }
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, () => on(sig)] as const)
  for (const [sig, fn] of handlers) process.on(sig, fn)
  return {
    signal: ac.signal,
    dispose() {
      for (const [sig, fn] of handlers) process.off(sig, fn)
    },
  }
}

export async function runRun(a: RunCliArgs): Promise<number> {
  const onWarning = (m: string): void => (a.json ? writeJsonLine({type: 'warning', message: m}) : warn(m))
  const ic = interruptController(a.json)
  let r: RunResult
  try {
    const repo = Repository.open(a.repo, {create: true})
    try {
      r = await run(repo, {
        argv: a.argv,
        in: a.in,
        ref: a.ref,
        env: a.env,
        cwd: a.cwd,
        mode: a.materialize ? 'materialize' : 'auto',
        sign: a.sign,
        onStdout: (d) => void (a.json ? process.stderr : process.stdout).write(d),
        onStderr: (d) => void process.stderr.write(d),
        onWarning,
        signal: ic.signal,
      })
      // Every run writes small metadata packs: merge them now and then (as velo snapshot does), so
      // that opening the repository and finding objects stay fast over many runs.
      if (repo.packs.packs.filter((p) => p.index.kind === 'meta').length > 50) {
        await (await import('../maintenance/repack.js')).maybeAutoRepack(repo, {onWarning})
      }
    } finally {
      repo.close()
    }
  } finally {
    ic.dispose()
  }
  if (a.json) writeJsonLine(runJson(r))
  else if (!a.quiet) process.stderr.write(renderRun(r) + '\n')
  return r.exitCode
}

/** Splits `[flags] -- CMD ARGS` (the command may also follow the flags without --). */
export function splitCommand(argv: string[]): {flags: string[]; command: string[]} {
  const i = argv.indexOf('--')
  if (i >= 0) return {flags: argv.slice(0, i), command: argv.slice(i + 1)}
  return {flags: argv, command: []}
}

/** Parses argv (after "run"); undefined means "let oclif handle it" (help, unknown flags). */
export function parseRunArgv(argv: string[]): RunCliArgs | undefined {
  const {flags, command} = splitCommand(argv)
  try {
    const {values, positionals} = parseArgs({
      args: flags,
      allowPositionals: true,
      strict: true,
      options: {
        repo: {type: 'string'},
        ref: {type: 'string'},
        in: {type: 'string'},
        env: {type: 'string', multiple: true},
        cwd: {type: 'string'},
        materialize: {type: 'boolean'},
        sign: {type: 'boolean'},
        json: {type: 'boolean'},
        quiet: {type: 'boolean', short: 'q'},
      },
    })
    if (positionals.length > 0 || command.length === 0) return undefined
    return {
      argv: command,
      repo: values.repo ?? process.env.VELO_REPO,
      ref: values.ref,
      in: values.in,
      env: values.env ?? [],
      cwd: values.cwd,
      materialize: values.materialize ?? false,
      sign: values.sign ?? false,
      json: values.json ?? process.env.VELO_CONTENT_TYPE?.toLowerCase() === 'json',
      quiet: values.quiet ?? false,
    }
  } catch {
    return undefined
  }
}

/** Runs and exits: a mount served by this process can leave native handles that keep it alive. */
export async function fastRun(argv: string[]): Promise<boolean> {
  const a = parseRunArgv(argv)
  if (!a) return false
  let code: number
  try {
    code = await runRun(a)
  } catch (err) {
    code = reportError(err, a.json, {command: 'run'})
  }
  process.exit(code)
}

export function usageNoCommand(): VeloError {
  return new VeloError('ERR_VELO_USAGE', 'no command to run', {hint: 'put the command after --, e.g. velo run -- npm test'})
}
