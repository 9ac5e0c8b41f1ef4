/**
 * `velo replay RUN`: runs a recorded command again, in a fresh checkout of its input with its
 * argv, env and cwd, and compares what it did with the record: per output path (the paths either
 * run changed relative to the input), stdout, stderr and exit status. Nothing is recorded: no run
 * record, no ref moves (the replayed output snapshot is stored, unreferenced, for --keep and gc).
 */
import {readdirSync} from 'node:fs'
import {diffTrees, type Change} from '../diff/diffTrees.js'
import type {Oid} from '../objects/oid.js'
import type {RunRecord} from '../objects/runRecord.js'
import type {Repository} from '../repo/Repository.js'
import {restoreTree} from '../restore/restoreTree.js'
import {findMissing, missingInputError} from '../run/checkInput.js'
import {executeInCheckout} from '../run/executeInCheckout.js'
import {readRun, resolveRun} from '../run/readRun.js'
import {replayEnv} from '../run/runEnv.js'
import {RunLease} from '../run/RunLease.js'
import type {WorkspaceMode} from '../run/Workspace.js'
import {ObjectWriter} from '../store/ObjectWriter.js'
import {VeloError, isErrno} from '../util/errors.js'
import {exitCodeOf} from './run.js'

export type PathStatus = 'identical' | 'different' | 'missing' | 'extra'

export interface ReplayPath {
  path: string
  /**
   * identical: both runs left it the same; different: both changed it, differently; missing: the
   * recorded run changed it (added, modified, deleted) and the replay did not do the same; extra:
   * the replay changed it and the recorded run did not.
   */
  status: PathStatus
  recorded?: Change['status']
  replayed?: Change['status']
}

export interface StreamComparison {
  equal: boolean
  recorded: {id: Oid; size: number}
  replayed: {id: Oid; size: number}
}

export interface ReplayResult {
  run: Oid
  matches: boolean
  input: Oid
  recordedOutput: Oid
  replayedOutput: Oid
  mode: WorkspaceMode
  paths: ReplayPath[]
  counts: Record<PathStatus, number>
  stdout: StreamComparison
  stderr: StreamComparison
  exit: {equal: boolean; recorded: {exitCode: number | null; signal: string | null}; replayed: {exitCode: number | null; signal: string | null}}
  /** Redacted variables velo's environment did not have: the command ran without them. */
  missingEnv: string[]
  interrupted: boolean
  kept?: string
  durationMs: number
}

export interface ReplayOptions {
  keep?: string
  mode?: WorkspaceMode | 'auto'
  onStdout?(data: Buffer): void
  onStderr?(data: Buffer): void
  onWarning?(msg: string): void
  onPhase?(phase: 'input' | 'command' | 'output' | 'compare'): void
  signal?: AbortSignal
}

/** Per output path: what each run changed relative to the input, and whether they agree. */
export function comparePaths(repo: Repository, input: Oid, recorded: Oid, replayed: Oid): ReplayPath[] {
  const read = (t: Oid): ReturnType<Repository['readTree']> => repo.readTree(t)
  const tree = (s: Oid): Oid => repo.readSnapshot(s).tree
  const [ti, ta, tb] = [tree(input), tree(recorded), tree(replayed)]
  const byRec = new Map(diffTrees(read, ti, ta).map((c) => [c.path, c.status]))
  const byRep = new Map(diffTrees(read, ti, tb).map((c) => [c.path, c.status]))
  const differ = new Set(diffTrees(read, ta, tb).map((c) => c.path))
  const out: ReplayPath[] = []
  for (const path of new Set([...byRec.keys(), ...byRep.keys(), ...differ])) {
    const recordedStatus = byRec.get(path)
    const replayedStatus = byRep.get(path)
    let status: PathStatus
    if (!differ.has(path)) status = 'identical'
    else if (recordedStatus && replayedStatus) status = 'different'
    else if (recordedStatus) status = 'missing'
    else status = 'extra'
    out.push({path, status, ...(recordedStatus ? {recorded: recordedStatus} : {}), ...(replayedStatus ? {replayed: replayedStatus} : {})})
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function checkKeepDir(dir: string): void {
  let names: string[] = []
  try {
    names = readdirSync(dir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return
    if (isErrno(err, 'ENOTDIR')) names = ['']
    else throw err
  }
  if (names.length > 0) throw new VeloError('ERR_VELO_TARGET_NOT_EMPTY', `--keep ${dir} is not empty`, {hint: 'name a new or empty directory'})
}

function stream(recorded: {id: Oid; size: number}, replayed: {id: Oid; size: number}): StreamComparison {
  return {equal: recorded.id === replayed.id, recorded, replayed}
}

export async function replay(repo: Repository, rev: string, o: ReplayOptions = {}): Promise<ReplayResult> {
  const started = Date.now()
  if (o.keep) checkKeepDir(o.keep)
  const id = resolveRun(repo, rev)
  const rec: RunRecord = readRun(repo, id)
  o.onPhase?.('input')
  const missing = findMissing(repo, rec.input)
  if (missing) throw missingInputError(repo, `the input of run ${id.slice(0, 12)}`, missing, rev)
  const env = replayEnv(rec.env, rec.redacted)
  if (env.missing.length > 0) o.onWarning?.(`not in the environment, so the command runs without them: ${env.missing.join(', ')} (recorded as redacted)`)
  const lease = new RunLease(repo, 'replay')
  const writer = new ObjectWriter(repo)
  try {
    lease.add(id)
    const x = await executeInCheckout(repo, writer, {
      input: rec.input,
      argv: rec.argv,
      cwd: rec.cwd,
      env: env.env,
      mode: o.mode ?? 'auto',
      onStdout: o.onStdout,
      onStderr: o.onStderr,
      onWarning: o.onWarning,
      onPhase: (p) => o.onPhase?.(p),
      signal: o.signal,
    })
    writer.commit() // stdout and stderr: comparable by id, and readable while --keep looks at them
    lease.add(x.output.id)
    o.onPhase?.('compare')
    const paths = comparePaths(repo, rec.input, rec.output, x.output.id)
    const counts: Record<PathStatus, number> = {identical: 0, different: 0, missing: 0, extra: 0}
    for (const p of paths) counts[p.status]++
    const exit = {
      equal: exitCodeOf({...rec, interrupted: false}) === exitCodeOf({...x.exec, interrupted: false}),
      recorded: {exitCode: rec.exitCode, signal: rec.signal},
      replayed: {exitCode: x.exec.exitCode, signal: x.exec.signal},
    }
    const res: ReplayResult = {
      run: id,
      matches: false,
      input: rec.input,
      recordedOutput: rec.output,
      replayedOutput: x.output.id,
      mode: x.mode,
      paths,
      counts,
      stdout: stream(rec.stdout, x.stdout),
      stderr: stream(rec.stderr, x.stderr),
      exit,
      missingEnv: env.missing,
      interrupted: x.exec.interrupted,
      durationMs: 0,
    }
    res.matches = !res.interrupted && counts.different + counts.missing + counts.extra === 0 && res.stdout.equal && res.stderr.equal && exit.equal
    if (o.keep) {
      await restoreTree(repo, repo.readSnapshot(x.output.id).tree, o.keep)
      res.kept = o.keep
    }
    res.durationMs = Date.now() - started
    return res
  } catch (err) {
    writer.abort()
    throw err
  } finally {
    lease.release()
  }
}
