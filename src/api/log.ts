/** `velo log`: the history of a ref (first parents), or of every ref. */
import type {Oid} from '../objects/oid.js'
import type {Snapshot} from '../objects/snapshot.js'
import type {Repository} from '../repo/Repository.js'

export interface LogEntry {
  id: Oid
  refs: string[]
  tree: Oid
  parents: Oid[]
  time: string
  user: string
  host: string
  message: string
  meta: Record<string, string>
  signed: boolean
}

export function toLogEntry(id: Oid, s: Snapshot, refs: string[] = []): LogEntry {
  return {id, refs, tree: s.tree, parents: s.parents, time: new Date(s.time).toISOString(), user: s.user, host: s.host, message: s.message, meta: s.meta, signed: Boolean(s.signature)}
}

export function log(repo: Repository, o: {rev?: string; limit?: number} = {}): LogEntry[] {
  const limit = o.limit ?? Infinity
  const refsAt = new Map<string, string[]>()
  const all = repo.refs.list()
  for (const r of all) refsAt.set(r.oid, [...(refsAt.get(r.oid) ?? []), r.name])
  const starts: Oid[] = o.rev ? [repo.resolveSnapshot(o.rev)] : all.map((r) => r.oid)
  const seen = new Set<string>()
  const out: LogEntry[] = []
  for (const start of starts) {
    let cur: Oid | undefined = start
    let n = 0
    while (cur && !seen.has(cur) && n < limit) {
      seen.add(cur)
      let s: Snapshot
      try {
        s = repo.readSnapshot(cur)
      } catch (err) {
        if (o.rev || cur !== start) throw err
        break // a ref that points at a run record or other object: not part of a snapshot log
      }
      out.push(toLogEntry(cur, s, refsAt.get(cur) ?? []))
      cur = s.parents[0]
      n++
    }
  }
  if (!o.rev) out.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))
  return o.limit ? out.slice(0, o.limit) : out
}
