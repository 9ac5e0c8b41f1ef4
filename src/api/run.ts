/**
 * `velo run`: records one command as a run record. The input (a directory, snapshotted first, or a
 * revision) is checked out fresh (a copy-on-write mount, or a restored temporary directory), the
 * command runs there with an explicit environment, and the record binds input, argv, env, cwd,
 * stdout, stderr, exit status, times, access trace and output snapshot. The record is stored only
 * after the output snapshot is complete, then the ref moves to it (its previous value is the
 * record's `previous`: a ref's runs form a chain).
 */
import {readFileSync, realpathSync, statSync} from 'node:fs'
import {hostname, constants as osConstants} from 'node:os'
import {isAbsolute, normalize, relative, sep} from 'node:path'
import {signBytes, type SigningKey} from '../audit/ed25519.js'
import {loadSigningKey} from '../audit/signingKey.js'
import {diffTrees} from '../diff/diffTrees.js'
import {hash} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {decodeRunRecord, encodeRunRecord, encodeTraceList, isRelPath, runSigningPayload, type RunRecord, type RunTrace} from '../objects/runRecord.js'
import {ObjectType} from '../pack/block.js'
import {assertRefName, isValidRefName, userName} from '../refs/RefStore.js'
import {withRepoLock} from '../repo/RepoLock.js'
import type {Repository} from '../repo/Repository.js'
import {findMissing, missingInputError} from '../run/checkInput.js'
import {executeInCheckout} from '../run/executeInCheckout.js'
import {buildRunEnv} from '../run/runEnv.js'
import {RunLease} from '../run/RunLease.js'
import type {WorkspaceMode} from '../run/Workspace.js'
import {refNaming} from '../repo/settings.js'
import {refNameFor} from '../snapshot/refNameFor.js'
import {ObjectWriter} from '../store/ObjectWriter.js'
import {TYPE_NAMES} from '../store/PackStore.js'
import {VeloError, isErrno} from '../util/errors.js'

export interface RunOptions {
  argv: string[]
  /** A directory (snapshotted first) or a revision; default '.'. */
  in?: string
  ref?: string
  /** --env items: NAME (value from velo's environment) or NAME=VALUE. */
  env?: string[]
  /** Working directory relative to the input root. Default: velo's working directory relative to DIR if inside it, else the root. */
  cwd?: string
  mode?: WorkspaceMode | 'auto'
  sign?: boolean
  onStdout?(data: Buffer): void
  onStderr?(data: Buffer): void
  onWarning?(msg: string): void
  onPhase?(phase: 'input' | 'command' | 'output' | 'record'): void
  /** Abort = interrupt: the command gets the reason's signal (SIGINT by default), the run is recorded as interrupted. */
  signal?: AbortSignal
}

export interface RunChanges {
  added: number
  modified: number
  deleted: number
  typeChanged: number
}

export interface RunResult {
  id: Oid
  ref: string
  record: RunRecord
  changes: RunChanges
  /** The exit code velo ends with: the command's, 128+N for signal N, 130 when interrupted. */
  exitCode: number
  /** Where the time went (ms): input snapshot or check, checkout, command, output snapshot and unmount, record. */
  timings: Record<'input' | 'checkout' | 'command' | 'output' | 'record', number>
}

/** Traces longer than this are stored as a blob the record names. */
const INLINE_TRACE_BYTES = 16 << 10

let versionCache: string | undefined
export function veloVersion(): string {
  versionCache ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string}).version
  return versionCache
}

export function exitCodeOf(r: Pick<RunRecord, 'exitCode' | 'signal' | 'interrupted'>): number {
  if (r.interrupted) return 130
  if (r.signal) return 128 + ((osConstants.signals as Record<string, number>)[r.signal] ?? 0)
  return r.exitCode ?? 1
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory()
  } catch {
    return false
  }
}

function isRevision(repo: Repository, s: string): boolean {
  try {
    repo.resolve(s)
    return true
  } catch {
    return false
  }
}

export function checkRelativeCwd(cwd: string): string {
  const n = normalize(cwd).replace(/\/+$/, '')
  if (n === '.' || n === '') return ''
  if (isAbsolute(n) || n === '..' || n.startsWith(`..${sep}`)) {
    throw new VeloError('ERR_VELO_USAGE', `--cwd ${cwd} must be a path inside the input (relative to its root)`, {hint: 'e.g. --cwd packages/app'})
  }
  return n
}

interface Input {
  cwd: string
  defaultRef: string
  /** Records (a directory) or checks (a revision) the input; returns its snapshot id. */
  snapshot(): Promise<Oid>
}

/** What --in names, the default ref and cwd that follow from it; nothing is read yet. */
function describeInput(repo: Repository, o: RunOptions): Input {
  const arg = o.in ?? '.'
  const dir = isDirectory(arg)
  const explicitPath = arg === '.' || arg === '..' || arg.startsWith('./') || arg.startsWith('../') || arg.startsWith('/')
  if (dir && !explicitPath && isRevision(repo, arg)) {
    throw new VeloError('ERR_VELO_AMBIGUOUS', `--in ${arg} is both a directory and a revision`, {hint: `write ./${arg} for the directory`})
  }
  if (dir) {
    const root = realpathSync(arg)
    let cwd = ''
    if (o.cwd !== undefined) cwd = checkRelativeCwd(o.cwd)
    else {
      const here = relative(root, realpathSync(process.cwd()))
      if (here && !here.startsWith('..') && !isAbsolute(here)) cwd = here
    }
    return {
      cwd,
      defaultRef: `runs/${refNameFor(root, refNaming(repo.config))}`,
      // Loaded here: a run on a revision needs none of the walker.
      snapshot: async () => (await (await import('./snapshot.js')).snapshot(repo, {dir: root, noRef: true, command: 'run', onWarning: o.onWarning})).id,
    }
  }
  const id = repo.resolveSnapshot(arg)
  const base = arg.replace(/(~\d*)+$/, '')
  let defaultRef = `runs/${id.slice(0, 12)}`
  if (isValidRefName(base) && !/^[0-9a-f]{4,64}$/.test(base)) {
    const target = repo.refs.read(base)
    defaultRef = target && repo.packs.typeOf(target) === ObjectType.run ? base : `runs/${base}`
  }
  return {
    cwd: o.cwd === undefined ? '' : checkRelativeCwd(o.cwd),
    defaultRef,
    snapshot: async () => {
      const missing = findMissing(repo, id)
      if (missing) throw missingInputError(repo, `the input ${arg} (snapshot ${id.slice(0, 12)})`, missing, arg)
      return id
    },
  }
}

function traceOf(writer: ObjectWriter, paths: string[] | null): RunTrace | null {
  if (!paths) return null
  const valid = paths.filter(isRelPath)
  const list = encodeTraceList(valid)
  if (list.length <= INLINE_TRACE_BYTES) return {count: valid.length, paths: valid}
  return {count: valid.length, blob: writer.writeBlob(list)}
}

export function countChanges(repo: Repository, input: Oid, output: Oid): RunChanges {
  const c: RunChanges = {added: 0, modified: 0, deleted: 0, typeChanged: 0}
  const a = repo.readSnapshot(input).tree
  const b = repo.readSnapshot(output).tree
  for (const ch of diffTrees((t) => repo.readTree(t), a, b)) {
    if (ch.status === 'A') c.added++
    else if (ch.status === 'M') c.modified++
    else if (ch.status === 'D') c.deleted++
    else c.typeChanged++
  }
  return c
}

export async function run(repo: Repository, o: RunOptions): Promise<RunResult> {
  if (o.argv.length === 0 || o.argv[0] === '') {
    throw new VeloError('ERR_VELO_USAGE', 'no command to run', {hint: 'put the command after --, e.g. velo run -- npm test'})
  }
  const key: SigningKey | undefined = o.sign ? loadSigningKey(repo) : undefined
  const env = buildRunEnv(o.env ?? [])
  if (o.ref !== undefined) assertRefName(o.ref)
  const t0 = Date.now()
  let mark = t0
  const timings: RunResult['timings'] = {input: 0, checkout: 0, command: 0, output: 0, record: 0}
  const lap = (k: keyof RunResult['timings']): void => {
    const now = Date.now()
    timings[k] = now - mark
    mark = now
  }
  o.onPhase?.('input')
  const input = describeInput(repo, o)
  const ref = o.ref ?? input.defaultRef
  assertRefName(ref)
  const previous = repo.refs.read(ref) ?? null
  if (previous && repo.packs.typeOf(previous) !== ObjectType.run) {
    throw new VeloError('ERR_VELO_USAGE', `ref ${ref} points at a ${TYPE_NAMES[repo.packs.typeOf(previous) ?? 0] ?? 'missing object'}, not a run`, {
      hint: 'runs go on refs of their own: choose another --ref (e.g. runs/NAME)',
    })
  }
  const inputId = await input.snapshot()
  lap('input')
  const lease = new RunLease(repo, 'run')
  const writer = new ObjectWriter(repo)
  try {
    lease.add(inputId)
    const x = await executeInCheckout(repo, writer, {
      input: inputId,
      argv: o.argv,
      cwd: input.cwd,
      env: env.actual,
      mode: o.mode ?? 'auto',
      onStdout: o.onStdout,
      onStderr: o.onStderr,
      onWarning: o.onWarning,
      onPhase: (p) => {
        lap(p === 'command' ? 'checkout' : 'command')
        o.onPhase?.(p)
      },
      signal: o.signal,
    })
    lap('output')
    lease.add(x.output.id)
    o.onPhase?.('record')
    const record: RunRecord = {
      input: inputId,
      output: x.output.id,
      previous,
      argv: o.argv,
      cwd: input.cwd,
      env: env.recorded,
      redacted: env.redacted,
      stdout: x.stdout,
      stderr: x.stderr,
      exitCode: x.exec.exitCode,
      signal: x.exec.signal,
      interrupted: x.exec.interrupted,
      start: x.exec.start,
      duration: x.exec.duration,
      host: hostname(),
      user: userName(),
      mode: x.mode,
      trace: traceOf(writer, x.trace),
      velo: veloVersion(),
    }
    if (key) record.signature = signBytes(key, runSigningPayload(record))
    const bytes = encodeRunRecord(record)
    decodeRunRecord(bytes, 'new run record') // what is stored must read back
    const id = hash(bytes).toString('hex') as Oid
    writer.putRaw(Buffer.from(id, 'hex'), ObjectType.run, bytes)
    await withRepoLock(repo, 'shared', 'run', () => {
      writer.commit()
      repo.refs.update(ref, {to: id, expect: previous, command: 'run', message: o.argv.join(' ').slice(0, 200), onWarning: o.onWarning})
    }, {onWarning: o.onWarning})
    const changes = x.output.id === inputId ? {added: 0, modified: 0, deleted: 0, typeChanged: 0} : countChanges(repo, inputId, x.output.id)
    lap('record')
    return {id, ref, record, changes, exitCode: exitCodeOf(record), timings}
  } catch (err) {
    writer.abort()
    if (isErrno(err, 'ENOENT') && (err as NodeJS.ErrnoException).syscall?.startsWith('spawn')) {
      throw new VeloError('ERR_VELO_COMMAND_NOT_FOUND', `command not found: ${o.argv[0]}`, {cause: err})
    }
    throw err
  } finally {
    lease.release()
  }
}
