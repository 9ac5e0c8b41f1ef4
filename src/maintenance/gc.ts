/**
 * `velo gc`: under the exclusive repository lock, mark every object reachable from refs (remote
 * ones too), reflog entries, live mounts and leases, and from every tree, snapshot and chunk list
 * younger than the grace period; then delete the unmarked objects of packs older than the grace
 * period (an object's age is its pack's mtime). Packs that are all garbage are removed, packs with
 * enough garbage are rewritten without it. Keeping the closure of young trees preserves the
 * invariant the snapshot stat cache relies on: a tree that exists has everything below it.
 */
import {readdirSync, rmSync, statSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import {withRepoLock} from '../repo/RepoLock.js'
import type {Repository} from '../repo/Repository.js'
import {TYPE_NAMES, type LoadedPack} from '../store/PackStore.js'
import {VeloError, isErrno} from '../util/errors.js'
import {ObjectGraph, describeVia, type Root} from './ObjectGraph.js'
import {listPackFiles} from './packFiles.js'
import {formatDuration} from './parseDuration.js'
import {failpoint} from './failpoint.js'
import {expireReflogs, holderRoots, listRefsSafe, listReflogs, reflogRoots} from './roots.js'
import {removePacks, rewritePacks} from './rewritePacks.js'

export const DEFAULT_PRUNE_MS = 14 * 86_400_000
export const DEFAULT_REFLOG_EXPIRE_MS = 90 * 86_400_000
/** Temporary files older than this are leftovers of interrupted commands. */
export const TMP_MAX_AGE_MS = 3_600_000

export interface GcOptions {
  /** Grace period: unreachable objects younger than this are kept (0: `--prune now`). */
  pruneMs?: number
  /** Reflog entries older than this are dropped and stop protecting their snapshots. */
  reflogExpireMs?: number
  dryRun?: boolean
  /** Rewrite an old pack when at least this fraction of its bytes is garbage (0..1). */
  rewriteThreshold?: number
  now?: number
  waitMs?: number
  onWarning?: (msg: string) => void
  /** mark: objects reached so far; sweep: packs removed or rewritten of those to go. */
  onProgress?: (p: {phase: 'mark' | 'sweep'; done: number; total?: number}) => void
}

export interface GcResult {
  dryRun: boolean
  prune: string
  roots: {refs: number; reflogEntries: number; mounts: number; leases: number; young: number}
  /** False when no pack was older than the grace period: nothing could go, the graph was not walked. */
  walked: boolean
  reachableObjects: number
  deletedObjects: number
  deletedBytes: number
  keptGarbageObjects: number
  removedPacks: string[]
  rewrittenPacks: string[]
  newPacks: string[]
  removedOrphanPacks: string[]
  removedTmpFiles: number
  expiredReflogEntries: number
  durationMs: number
}

export async function gc(repo: Repository, o: GcOptions = {}): Promise<GcResult> {
  return withRepoLock(repo, 'exclusive', o.dryRun ? 'gc --dry-run' : 'gc', () => gcLocked(repo, o), {onWarning: o.onWarning, waitMs: o.waitMs})
}

interface Mark {
  graph: ObjectGraph
  roots: GcResult['roots']
  young: Set<LoadedPack>
}

/** Collects the roots and marks; throws when the graph cannot be walked completely. */
export function markForGc(repo: Repository, pruneMs: number, reflogExpireMs: number, now: number, onWarning?: (m: string) => void, onVisited?: (n: number) => void): Mark {
  repo.packs.refresh()
  if (repo.packs.damaged.size > 0) {
    const [name, why] = [...repo.packs.damaged][0]
    throw new VeloError('ERR_VELO_CORRUPT', `the index of pack ${name} is damaged (${why}): gc cannot tell what is reachable`, {
      hint: 'run velo fsck, then velo fsck --repair; gc refuses to delete anything until then',
      data: {pack: name},
    })
  }
  const files = new Map(listPackFiles(repo.packsDir).map((f) => [f.name, f]))
  for (const f of files.values()) {
    if (f.hasIdx && !f.hasPack) {
      throw new VeloError('ERR_VELO_CORRUPT', `pack ${f.name} is missing (its index is there): gc cannot tell what is reachable`, {
        hint: 'run velo fsck, then velo fsck --repair --from REMOTE',
        data: {pack: f.name},
      })
    }
  }
  const graph = new ObjectGraph(repo.packs)
  const cutoff = now - pruneMs
  const young = new Set(graph.store.packs.filter((p) => (files.get(p.name)?.mtimeMs ?? now) > cutoff))
  const refs = listRefsSafe(repo)
  if (refs.damaged.length > 0) {
    throw new VeloError('ERR_VELO_CORRUPT', `ref ${refs.damaged[0].name} is damaged (${refs.damaged[0].message}): gc cannot tell what is reachable`, {
      hint: `set it again with velo ref set ${refs.damaged[0].name} REV, or delete it`,
    })
  }
  const roots: Root[] = refs.refs.map((r) => ({kind: 'ref', name: r.name, id: r.oid}))
  const logs = listReflogs(repo)
  const logRoots = reflogRoots(logs, now - reflogExpireMs)
  const liveEntries = logs.reduce((a, l) => a + l.entries.filter((e) => !(Date.parse(e.time) <= now - reflogExpireMs)).length, 0)
  roots.push(...logRoots)
  const held = holderRoots(repo, now)
  for (const i of held.ignored) onWarning?.(`ignored ${i.file}: ${i.reason}`)
  roots.push(...held.roots)
  // Young trees, snapshots, chunk lists and run records are roots: whatever they reference stays.
  let youngRoots = 0
  for (const p of young) {
    const idx = p.index
    for (let i = 0; i < idx.count; i++) {
      const t = idx.typeAt(i)
      if (t === ObjectType.tree || t === ObjectType.snapshot || t === ObjectType.chunkList || t === ObjectType.run) {
        roots.push({kind: 'young', name: p.name, id: idx.oidAt(i)})
        youngRoots++
      }
    }
  }
  const problems: string[] = []
  let missingFiles = 0
  let firstMissing = ''
  let visited = 0
  graph.walk(roots, {
    onVisit: onVisited && (() => void (++visited % 4096 === 0 && onVisited(visited))),
    onMissing(id, expect, via) {
      // A missing file may be one a lazy (metadata-only) pull never fetched; a missing tree or
      // snapshot hides what is below it, and gc would delete that. A reflog entry, mount or lease
      // naming an object that is gone protects nothing: said, not fatal (a ref is).
      if (expect === 'file' || expect === 'chunk') {
        if (missingFiles++ === 0) firstMissing = `${id} (${describeVia(via)})`
      } else if (via.snapshot === undefined && via.root.kind !== 'ref') onWarning?.(`${via.root.kind} ${via.root.name} names object ${id}, which is not in the repository`)
      else problems.push(`${expect === 'any' ? 'object' : expect} ${id} is missing (referenced by ${describeVia(via)})`)
    },
    onDamaged(id, message, via) {
      problems.push(`object ${id} is damaged: ${message} (referenced by ${describeVia(via)})`)
    },
  })
  if (missingFiles > 0) onWarning?.(`${missingFiles} file contents are missing (not fetched yet by a lazy checkout, or lost: velo fsck tells), e.g. ${firstMissing}`)
  if (problems.length > 0) {
    throw new VeloError('ERR_VELO_CORRUPT', `gc stopped before deleting anything: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : ''}`, {
      hint: 'run velo fsck, then velo fsck --repair (with --from REMOTE if a remote has the objects)',
      data: {problems: problems.slice(0, 50)},
    })
  }
  return {
    graph,
    young,
    roots: {
      refs: refs.refs.length,
      reflogEntries: liveEntries,
      mounts: held.roots.filter((r) => r.kind === 'mount').length,
      leases: held.roots.filter((r) => r.kind === 'lease').length,
      young: youngRoots,
    },
  }
}

function gcLocked(repo: Repository, o: GcOptions): GcResult {
  const started = Date.now()
  const now = o.now ?? started
  const pruneMs = o.pruneMs ?? DEFAULT_PRUNE_MS
  const reflogExpireMs = o.reflogExpireMs ?? DEFAULT_REFLOG_EXPIRE_MS
  const threshold = o.rewriteThreshold ?? 0.1
  const dryRun = o.dryRun ?? false
  const res: GcResult = {
    dryRun,
    prune: formatDuration(pruneMs),
    roots: {refs: 0, reflogEntries: 0, mounts: 0, leases: 0, young: 0},
    walked: false,
    reachableObjects: 0,
    deletedObjects: 0,
    deletedBytes: 0,
    keptGarbageObjects: 0,
    removedPacks: [],
    rewrittenPacks: [],
    newPacks: [],
    removedOrphanPacks: [],
    removedTmpFiles: 0,
    expiredReflogEntries: 0,
    durationMs: 0,
  }
  res.expiredReflogEntries = reflogExpireMs === Infinity ? 0 : expireReflogs(repo, now - reflogExpireMs, {dryRun, onWarning: o.onWarning})
  failpoint('gc:reflog-expired')
  // Nothing older than the grace period: nothing can be deleted, no need to walk the graph.
  const cutoffMs = now - pruneMs
  const oldFiles = listPackFiles(repo.packsDir).filter((f) => f.mtimeMs <= cutoffMs)
  if (oldFiles.length === 0) {
    res.removedTmpFiles = removeOldTmpFiles(repo, now, dryRun)
    res.durationMs = Date.now() - started
    return res
  }
  res.walked = true
  o.onProgress?.({phase: 'mark', done: 0})
  const mark = markForGc(repo, pruneMs, reflogExpireMs, now, o.onWarning, o.onProgress && ((n) => o.onProgress!({phase: 'mark', done: n})))
  o.onProgress?.({phase: 'mark', done: mark.graph.visited})
  failpoint('gc:marked')
  res.roots = mark.roots
  res.reachableObjects = mark.graph.visited
  const {graph, young} = mark

  // Plan: per old pack, how much is garbage.
  const toRemove: LoadedPack[] = []
  const toRewrite: LoadedPack[] = []
  let rewriteMtime = 0
  const files = new Map(listPackFiles(repo.packsDir).map((f) => [f.name, f]))
  for (const p of graph.store.packs) {
    if (young.has(p)) continue
    const marks = graph.marks.get(p)!
    let garbage = 0
    let garbageBytes = 0
    let bytes = 0
    for (let i = 0; i < p.index.count; i++) {
      const r = p.index.record(i)
      bytes += r.length
      if (!marks[i]) {
        garbage++
        garbageBytes += r.length
      }
    }
    if (garbage === 0) continue
    if (garbage === p.index.count) {
      toRemove.push(p)
      res.deletedObjects += garbage
      res.deletedBytes += files.get(p.name)?.packBytes ?? garbageBytes
    } else if (garbageBytes >= threshold * bytes || pruneMs === 0) {
      toRewrite.push(p)
      res.deletedObjects += garbage
      res.deletedBytes += garbageBytes
      rewriteMtime = Math.max(rewriteMtime, files.get(p.name)?.mtimeMs ?? now)
    } else res.keptGarbageObjects += garbage
  }
  res.removedPacks = toRemove.map((p) => p.name)
  res.rewrittenPacks = toRewrite.map((p) => p.name)

  // Orphan packs (no index: an interrupted writer or gc) older than the grace period.
  const cutoff = now - pruneMs
  const orphans = [...files.values()].filter((f) => f.hasPack && !f.hasIdx && f.mtimeMs <= cutoff)
  res.removedOrphanPacks = orphans.map((f) => f.name)

  const sweep = toRewrite.length + toRemove.length
  o.onProgress?.({phase: 'sweep', done: 0, total: sweep})
  if (!dryRun) {
    let fresh = new Set<string>()
    if (toRewrite.length > 0) {
      const w = rewritePacks(repo, toRewrite, {keep: (p, i) => graph.isMarked(p, i), mtimeMs: rewriteMtime, alsoRemoving: toRemove})
      fresh = new Set(w.written.map((p) => p.name))
      res.newPacks = [...fresh]
    }
    removePacks(repo, [...toRewrite, ...toRemove].filter((p) => !fresh.has(p.name)))
    for (const f of orphans) {
      try {
        unlinkSync(f.packPath)
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err
      }
    }
  }
  o.onProgress?.({phase: 'sweep', done: sweep, total: sweep})
  res.removedTmpFiles = removeOldTmpFiles(repo, now, dryRun)
  res.durationMs = Date.now() - started
  return res
}

/**
 * Removes what killed commands left in `<repo>/tmp/`: files, and staging directories (of pull,
 * push) whose newest entry is older than an hour. Runs under the exclusive lock, so no writer that
 * takes the shared lock is using them.
 */
export function removeOldTmpFiles(repo: Repository, now: number, dryRun = false): number {
  let n = 0
  let names: string[]
  try {
    names = readdirSync(repo.tmpDir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 0
    throw err
  }
  for (const f of names) {
    const p = join(repo.tmpDir, f)
    try {
      const st = statSync(p)
      if (st.isDirectory()) {
        if (now - newestMtime(p, st.mtimeMs) < TMP_MAX_AGE_MS) continue
        if (!dryRun) rmSync(p, {recursive: true, force: true})
        n++
        continue
      }
      if (!st.isFile() || now - st.mtimeMs < TMP_MAX_AGE_MS) continue
      if (!dryRun) unlinkSync(p)
      n++
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err
    }
  }
  return n
}

/** The newest mtime of a directory and its entries (staging directories are flat). */
function newestMtime(dir: string, own: number): number {
  let newest = own
  for (const e of readdirSync(dir)) {
    try {
      newest = Math.max(newest, statSync(join(dir, e)).mtimeMs)
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err
    }
  }
  return newest
}

export interface ExplainResult {
  id: Oid
  present: boolean
  type?: string
  pack?: string
  packAge?: string
  status: 'reachable' | 'young' | 'garbage' | 'absent'
  /** What keeps it: the root and path through which it was first reached. */
  keptBy?: {root: string; rootKind: string; snapshot?: Oid; path?: string; description: string}
  explanation: string
}

/** `velo gc --explain ID`: why an object is kept (or that it would be deleted). */
export function explainObject(repo: Repository, id: Oid, o: {pruneMs?: number; reflogExpireMs?: number; now?: number} = {}): ExplainResult {
  const now = o.now ?? Date.now()
  const pruneMs = o.pruneMs ?? DEFAULT_PRUNE_MS
  repo.packs.refresh()
  const loc = repo.packs.find(id)
  if (!loc) return {id, present: false, status: 'absent', explanation: `object ${id} is not in the repository`}
  const files = new Map(listPackFiles(repo.packsDir).map((f) => [f.name, f]))
  const mtime = files.get(loc.pack.name)?.mtimeMs ?? now
  const base = {id, present: true, type: TYPE_NAMES[loc.record.type] ?? `type ${loc.record.type}`, pack: loc.pack.name, packAge: new Date(mtime).toISOString()}
  const graph = new ObjectGraph(repo.packs)
  const refs = listRefsSafe(repo)
  const roots: Root[] = refs.refs.map((r) => ({kind: 'ref', name: r.name, id: r.oid}))
  roots.push(...reflogRoots(listReflogs(repo), now - (o.reflogExpireMs ?? DEFAULT_REFLOG_EXPIRE_MS)), ...holderRoots(repo, now).roots)
  const cutoff = now - pruneMs
  const youngPacks = graph.store.packs.filter((p) => (files.get(p.name)?.mtimeMs ?? now) > cutoff)
  for (const p of youngPacks) {
    for (let i = 0; i < p.index.count; i++) {
      const t = p.index.typeAt(i)
      if (t === ObjectType.tree || t === ObjectType.snapshot || t === ObjectType.chunkList || t === ObjectType.run) roots.push({kind: 'young', name: p.name, id: p.index.oidAt(i)})
    }
  }
  let found: ExplainResult['keptBy']
  try {
    graph.walk(roots, {
      onVisit(v, _t, via) {
        if (v === id && !found) {
          found = {root: via.root.name, rootKind: via.root.kind, snapshot: via.snapshot, path: via.path || undefined, description: describeVia(via)}
          throw new FoundSignal()
        }
      },
    })
  } catch (err) {
    if (!(err instanceof FoundSignal)) throw err
  }
  if (found) {
    const what = found.rootKind === 'young' ? `reachable from a tree or snapshot written within the grace period (pack ${found.root})` : `reachable from ${found.description}`
    return {...base, status: found.rootKind === 'young' ? 'young' : 'reachable', keptBy: found, explanation: `kept: ${what}`}
  }
  if (mtime > cutoff) {
    return {...base, status: 'young', explanation: `kept: unreachable, but its pack was written ${new Date(mtime).toISOString()}, within the grace period; gc deletes it after ${new Date(mtime + pruneMs).toISOString()}`}
  }
  return {...base, status: 'garbage', explanation: 'unreachable and older than the grace period: the next gc deletes it'}
}

class FoundSignal extends Error {}
