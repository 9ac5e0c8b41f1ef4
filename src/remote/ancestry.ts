/** History questions over snapshots and runs: is A an ancestor of (or equal to) B? */
import type {Oid} from '../objects/oid.js'
import {decodeRunRecord} from '../objects/runRecord.js'
import {ObjectType} from '../pack/block.js'
import type {Repository} from '../repo/Repository.js'

/** What ancestry needs of an object: its parents (a snapshot's parents, a run's previous run). */
export interface HistoryNode {
  parents: Oid[]
}

/**
 * True when `a` is `b` or reachable from `b` through parents. `read` returns a node, or
 * undefined when it is not available (history beyond it is then unknown, and not searched).
 */
export function isAncestor(read: (oid: Oid) => HistoryNode | undefined, a: Oid, b: Oid): boolean {
  const seen = new Set<string>()
  const queue: Oid[] = [b]
  while (queue.length > 0) {
    const cur = queue.pop()!
    if (cur === a) return true
    if (seen.has(cur)) continue
    seen.add(cur)
    const s = read(cur)
    if (s) queue.push(...s.parents)
  }
  return false
}

/**
 * Reads history nodes from a repository: a snapshot's parents, or a run record's previous run
 * (a ref's runs form a chain; moving the ref along it is a fast-forward). Undefined when the
 * object is absent or unreadable.
 */
export function historyReader(repo: Repository): (oid: Oid) => HistoryNode | undefined {
  return (oid) => {
    try {
      const t = repo.packs.typeOf(oid)
      if (t === ObjectType.snapshot) return repo.readSnapshot(oid)
      if (t === ObjectType.run) {
        const prev = decodeRunRecord(repo.packs.read(oid, ObjectType.run).data, `run record ${oid}`).previous
        return {parents: prev ? [prev] : []}
      }
      return undefined
    } catch {
      return undefined
    }
  }
}
