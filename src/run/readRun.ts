/**
 * Finding and reading run records. RUN is a run record's id or unique prefix, or a ref whose
 * latest entry is a run, each optionally followed by ~N: the N-th previous run of that chain.
 */
import {decodeRunRecord, decodeTraceList, type RunRecord} from '../objects/runRecord.js'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import type {Repository} from '../repo/Repository.js'
import {TYPE_NAMES} from '../store/PackStore.js'
import {VeloError} from '../util/errors.js'

export function readRun(repo: Repository, id: Oid): RunRecord {
  return decodeRunRecord(repo.packs.read(id, ObjectType.run).data, `run record ${id}`)
}

/** True when `rev` (without ~N) names a run record. */
export function isRun(repo: Repository, rev: string): boolean {
  try {
    return repo.packs.typeOf(repo.resolve(rev.replace(/(~\d*)+$/, ''))) === ObjectType.run
  } catch {
    return false
  }
}

export function resolveRun(repo: Repository, rev: string): Oid {
  const base = rev.replace(/(~\d*)+$/, '')
  const t = repo.packs.typeOf(repo.resolve(base))
  if (t !== ObjectType.run) {
    throw new VeloError('ERR_VELO_NOT_FOUND', `${base} is a ${TYPE_NAMES[t ?? 0] ?? 'unknown object'}, not a run`, {
      hint: 'velo log --runs lists runs; velo run records one',
    })
  }
  return repo.resolve(rev) // ~N: the N-th previous run
}

/** The paths of a record's access trace ([] when none was taken). */
export function readTrace(repo: Repository, r: RunRecord): string[] {
  if (!r.trace) return []
  if ('paths' in r.trace) return r.trace.paths
  return decodeTraceList(repo.packs.readContent(r.trace.blob), `access trace ${r.trace.blob}`)
}
