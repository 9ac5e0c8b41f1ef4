/**
 * `velo deps` without oclif (bin/run.js routes here: on a hit, the time until DIR is usable is the
 * point) and the parts the oclif command shares: resolving the preset and flags into a plan,
 * running it, and the human view. Imports stay light until the work needs more.
 */
import {homedir} from 'node:os'
import {parseArgs} from 'node:util'
import type {DepsResult, DepsStatus} from '../api/deps.js'
import type {DepsInputs} from '../deps/planDeps.js'
import {writeJsonLine} from '../ui/jsonLines.js'
import {humanBytes, reportError, warn} from './output.js'

/** Splits `[flags] -- CMD ARGS` (as velo run does; not imported from runCli.ts, which loads velo run). */
export function splitCommand(argv: string[]): {flags: string[]; command: string[]} {
  const i = argv.indexOf('--')
  return i >= 0 ? {flags: argv.slice(0, i), command: argv.slice(i + 1)} : {flags: argv, command: []}
}

export interface DepsCliArgs {
  preset?: string
  dir?: string
  keyFiles: string[]
  remote?: string
  materialize: boolean
  force: boolean
  status: boolean
  /** The install command after --. */
  command: string[]
  repo?: string
  json: boolean
  quiet: boolean
  /** When the work started (ms since the epoch): the process's start. */
  started: number
}

/** Computes the key and runs velo deps (or --status); prints nothing but warnings. */
export async function runDepsCli(a: DepsCliArgs, onWarning: (msg: string) => void): Promise<DepsResult | DepsStatus> {
  const [{resolveDepsSpec}, {planDeps}, {Repository}, api] = await Promise.all([
    import('../deps/presets.js'),
    import('../deps/planDeps.js'),
    import('../repo/Repository.js'),
    import('../api/deps.js'),
  ])
  const spec = resolveDepsSpec({preset: a.preset, keyFiles: a.keyFiles, dir: a.dir, argv: a.command}, {env: process.env, home: homedir()})
  const plan = planDeps(spec, {cwd: process.cwd()})
  const repo = Repository.open(a.repo, {create: true})
  try {
    if (a.status) return await api.depsStatus(repo, {plan, remote: a.remote, materialize: a.materialize})
    return await api.deps(repo, {
      plan,
      remote: a.remote,
      materialize: a.materialize,
      force: a.force,
      mount: async (rev, dir) => (await import('./checkoutCli.js')).launchMount({rev, mountpoint: dir, readOnly: false, repo: repo.root}),
      installStdout: a.json ? 'stderr' : 'stdout',
      onWarning,
      started: a.started,
    })
  } finally {
    repo.close()
  }
}

export function isDepsStatus(r: DepsResult | DepsStatus): r is DepsStatus {
  return !('provided' in r && typeof r.provided === 'string')
}

export function renderDepsCli(r: DepsResult | DepsStatus): string[] {
  return isDepsStatus(r) ? renderStatus(r) : [renderDeps(r)]
}

function describeInputs(i: DepsInputs): string {
  const files = i.files.map((f) => `${f.path} (${humanBytes(f.bytes)}, ${f.blake3.slice(0, 12)})`).join(', ')
  return `${i.manager}: ${files}; ${i.argv.join(' ')}; ${i.runtime || 'no runtime'}; ${i.platform}-${i.arch}; dir ${i.dir}`
}

export function renderDeps(r: DepsResult): string {
  const where = r.source === 'remote' ? `remote ${r.remote}` : r.source
  const t = `${r.seconds.toFixed(2)} s`
  const id = `${r.ref.slice(0, 'deps/'.length + 12)} (snapshot ${r.snapshot.slice(0, 12)})`
  if (r.hit) {
    const how = r.provided === 'already' ? `${r.dir} already provides ${id}` : `${r.provided} ${id} at ${r.dir}`
    return `velo deps: hit (${where}): ${how} in ${t}`
  }
  const rec = r.recorded ? `; recorded ${r.recorded.files} files, ${humanBytes(r.recorded.bytes)} (${humanBytes(r.recorded.newBytes)} new)` : ''
  const pushed = r.pushed === null ? '' : r.pushed ? `; pushed to ${r.remote}` : `; not pushed to ${r.remote}`
  return `velo deps: miss: installed ${r.dir} with ${r.install?.argv.join(' ')} (${r.install?.seconds.toFixed(1)} s) as ${id} in ${t}${rec}${pushed}`
}

export function renderStatus(s: DepsStatus): string[] {
  const remote = s.remote
    ? s.remote.error
      ? `${s.remote.name}: not reachable (${s.remote.error})`
      : `${s.remote.name}: ${s.remote.snapshot ? `has it (${s.remote.snapshot.slice(0, 12)})` : 'does not have it'}`
    : '(no --remote)'
  const would = s.provided
    ? 'hit: DIR already provides it (nothing to do)'
    : s.hit
      ? `hit from ${s.source === 'remote' ? `remote ${s.remote?.name}` : 'this repository'}`
      : 'miss: would run the install command'
  return [
    `key     ${s.key}`,
    `ref     ${s.ref}`,
    `dir     ${s.dir}`,
    `inputs  ${describeInputs(s.inputs)}`,
    `local   ${s.local ? `has it (${s.local.slice(0, 12)})` : 'does not have it'}`,
    `remote  ${remote}`,
    `would   ${would}`,
  ]
}

/** Parses argv (after "deps"); undefined means "let oclif handle it" (help, unknown flags). */
export function parseDepsArgv(argv: string[]): DepsCliArgs | undefined {
  const {flags, command} = splitCommand(argv)
  try {
    const {values, positionals} = parseArgs({
      args: flags,
      allowPositionals: true,
      strict: true,
      options: {
        repo: {type: 'string'},
        dir: {type: 'string'},
        'key-file': {type: 'string', multiple: true},
        remote: {type: 'string'},
        materialize: {type: 'boolean'},
        force: {type: 'boolean', short: 'f'},
        status: {type: 'boolean'},
        json: {type: 'boolean'},
        quiet: {type: 'boolean', short: 'q'},
      },
    })
    if (positionals.length > 1) return undefined
    return {
      preset: positionals[0],
      dir: values.dir,
      keyFiles: values['key-file'] ?? [],
      remote: values.remote,
      materialize: values.materialize ?? false,
      force: values.force ?? false,
      status: values.status ?? false,
      command,
      repo: values.repo ?? process.env.VELO_REPO,
      json: values.json ?? process.env.VELO_CONTENT_TYPE?.toLowerCase() === 'json',
      quiet: values.quiet ?? false,
      started: performance.timeOrigin,
    }
  } catch {
    return undefined
  }
}

export async function fastDeps(argv: string[]): Promise<boolean> {
  const a = parseDepsArgv(argv)
  if (!a) return false
  const onWarning = (m: string): void => (a.json ? writeJsonLine({type: 'warning', message: m}) : warn(m))
  try {
    const r = await runDepsCli(a, onWarning)
    if (a.json) writeJsonLine({type: 'summary', ...r})
    else for (const l of renderDepsCli(r)) process.stdout.write(l + '\n')
  } catch (err) {
    process.exitCode = reportError(err, a.json, {command: 'deps'})
  }
  return true
}
