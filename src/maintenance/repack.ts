/**
 * `velo repack`: consolidates small packs (every snapshot writes a tiny metadata pack) into large
 * ones, objects ordered by tree order (snapshot, its trees depth-first, file contents in path
 * order) so that reading a directory reads neighbouring bytes. Atomic: the new packs are written,
 * fsynced and visible before the old ones are removed; a crash leaves duplicates, never a gap.
 * Nothing is dropped (that is gc's job), and objects keep their age: packs older than the gc grace
 * period are merged apart from younger ones, each new pack dated like the newest of its sources.
 */
import {readdirSync} from 'node:fs'
import {withRepoLock} from '../repo/RepoLock.js'
import type {Repository} from '../repo/Repository.js'
import type {LoadedPack} from '../store/PackStore.js'
import {VeloError, isErrno} from '../util/errors.js'
import {DEFAULT_PRUNE_MS} from './gc.js'
import {ObjectGraph, type Root} from './ObjectGraph.js'
import {listPackFiles} from './packFiles.js'
import {listRefsSafe} from './roots.js'
import {removePacks, rewritePacks} from './rewritePacks.js'

export interface RepackOptions {
  /** Rewrite every pack (full locality repack), not only small ones. */
  all?: boolean
  /** Only metadata packs (the light automatic repack). */
  metaOnly?: boolean
  /** Packs smaller than this are consolidated (default 16 MiB). */
  smallPackBytes?: number
  /** Packs older than this are merged apart from younger ones (default: gc's 2 weeks). */
  graceMs?: number
  now?: number
  waitMs?: number
  onWarning?: (msg: string) => void
  /** order: objects reached by the tree-order walk; rewrite: groups of packs merged, with their bytes. */
  onProgress?: (p: {phase: 'order' | 'rewrite'; done: number; total?: number; bytes?: number; totalBytes?: number}) => void
}

export interface RepackResult {
  packsBefore: number
  packsAfter: number
  removedPacks: string[]
  newPacks: string[]
  objects: number
  bytesBefore: number
  bytesAfter: number
  durationMs: number
}

export async function repack(repo: Repository, o: RepackOptions = {}): Promise<RepackResult> {
  return withRepoLock(repo, 'exclusive', o.metaOnly ? 'repack --meta-only' : 'repack', () => repackLocked(repo, o), {onWarning: o.onWarning, waitMs: o.waitMs})
}

/** Tree order: the position at which a walk from the refs (newest snapshot first) first meets each object. */
export function treeOrder(repo: Repository, onVisited?: (n: number) => void): Map<string, number> {
  const graph = new ObjectGraph(repo.packs)
  const refs = listRefsSafe(repo).refs
  const roots: Root[] = refs.map((r) => ({kind: 'ref', name: r.name, id: r.oid}))
  const rank = new Map<string, number>()
  graph.walk(roots, {
    onVisit(id) {
      rank.set(id, rank.size)
      if (onVisited && rank.size % 4096 === 0) onVisited(rank.size)
    },
  })
  return rank
}

function repackLocked(repo: Repository, o: RepackOptions): RepackResult {
  const started = Date.now()
  const now = o.now ?? started
  const small = o.smallPackBytes ?? 16 << 20
  const grace = o.graceMs ?? DEFAULT_PRUNE_MS
  repo.packs.refresh()
  if (repo.packs.damaged.size > 0) {
    const [name, why] = [...repo.packs.damaged][0]
    throw new VeloError('ERR_VELO_CORRUPT', `the index of pack ${name} is damaged (${why}): repack stopped`, {hint: 'run velo fsck, then velo fsck --repair'})
  }
  const files = new Map(listPackFiles(repo.packsDir).map((f) => [f.name, f]))
  const packs = repo.packs.packs.filter((p) => files.get(p.name)?.hasPack)
  const res: RepackResult = {packsBefore: packs.length, packsAfter: packs.length, removedPacks: [], newPacks: [], objects: 0, bytesBefore: 0, bytesAfter: 0, durationMs: 0}
  const groups = new Map<string, LoadedPack[]>()
  for (const p of packs) {
    const f = files.get(p.name)!
    if (o.metaOnly && p.index.kind !== 'meta') continue
    if (!o.all && f.packBytes >= small) continue
    const key = `${p.index.kind}:${f.mtimeMs <= now - grace ? 'old' : 'young'}`
    groups.set(key, [...(groups.get(key) ?? []), p])
  }
  const work = [...groups.values()].filter((g) => g.length > 1 || (o.all && g.length === 1 && g[0].index.kind === 'data'))
  if (work.length === 0) {
    res.durationMs = Date.now() - started
    return res
  }
  o.onProgress?.({phase: 'order', done: 0})
  const rank = treeOrder(repo, o.onProgress && ((n) => o.onProgress!({phase: 'order', done: n})))
  o.onProgress?.({phase: 'order', done: rank.size})
  const totalBytes = work.reduce((a, g) => a + g.reduce((b, p) => b + files.get(p.name)!.packBytes, 0), 0)
  o.onProgress?.({phase: 'rewrite', done: 0, total: work.length, bytes: 0, totalBytes})
  for (const group of work) {
    const mtimeMs = Math.max(...group.map((p) => files.get(p.name)!.mtimeMs))
    res.bytesBefore += group.reduce((a, p) => a + files.get(p.name)!.packBytes, 0)
    const w = rewritePacks(repo, group, {rank: (hex) => rank.get(hex), mtimeMs})
    res.objects += w.objects
    res.bytesAfter += w.bytes
    const fresh = new Set(w.written.map((p) => p.name))
    res.newPacks.push(...[...fresh].filter((n) => !group.some((p) => p.name === n)))
    // A pack rewritten byte for byte has its old name: it is both old and new, and stays.
    const old = group.filter((p) => !fresh.has(p.name))
    removePacks(repo, old)
    res.removedPacks.push(...old.map((p) => p.name))
    o.onProgress?.({phase: 'rewrite', done: work.indexOf(group) + 1, total: work.length, bytes: res.bytesBefore, totalBytes})
  }
  res.packsAfter = repo.packs.packs.length
  res.durationMs = Date.now() - started
  return res
}

export const AUTO_REPACK_META_PACKS = 50

/** Number of metadata packs (one readdir: cheap enough to call after every snapshot). */
export function countMetaPacks(repo: Repository): number {
  try {
    return readdirSync(repo.packsDir).filter((f) => f.startsWith('m-') && f.endsWith('.idx')).length
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 0
    throw err
  }
}

/**
 * The light automatic repack (as `git gc --auto`): when there are more than `threshold` metadata
 * packs, merge them, if the repository lock can be had at once (never waits for other commands;
 * never call it while holding a repository lock). Returns undefined when nothing was done.
 */
export async function maybeAutoRepack(repo: Repository, o: {threshold?: number; onWarning?: (m: string) => void} = {}): Promise<RepackResult | undefined> {
  if (countMetaPacks(repo) <= (o.threshold ?? AUTO_REPACK_META_PACKS)) return undefined
  try {
    return await repack(repo, {metaOnly: true, waitMs: 0})
  } catch (err) {
    if (err instanceof VeloError && err.code === 'ERR_VELO_LOCKED') return undefined
    o.onWarning?.(`automatic repack failed: ${(err as Error).message}`)
    return undefined
  }
}
