/** History questions over snapshots: is A an ancestor of (or equal to) B? */
import type {Oid} from '../objects/oid.js'
import type {Snapshot} from '../objects/snapshot.js'

/**
 * True when `a` is `b` or reachable from `b` through parents. `read` returns a snapshot, or
 * undefined when it is not available (history beyond it is then unknown, and not searched).
 */
export function isAncestor(read: (oid: Oid) => Snapshot | undefined, a: Oid, b: Oid): boolean {
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
