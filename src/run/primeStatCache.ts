/**
 * After a tree is restored into a directory, writes the stat cache that a snapshot of that
 * directory would have written: every entry's lstat fields with the id it was restored from. The
 * output snapshot of a materialized run then reads only what the command changed (and the files
 * restored within the racy second before the cache), instead of every file again.
 */
import {join} from 'node:path'
import type {Oid} from '../objects/oid.js'
import type {Repository} from '../repo/Repository.js'
import {statCacheName} from '../snapshot/refNameFor.js'
import {encodeStatCache, makeEntry, type CachedDir, type CachedEntry, type StatCache} from '../snapshot/statCache.js'
import {fastLstat} from '../util/fastLstat.js'
import {atomicWrite, mkdirp} from '../util/fsx.js'

/** Builds the cache of `root` (an absolute real path) holding exactly the tree `tree`. Returns its path. */
export function primeStatCache(repo: Repository, tree: Oid, root: string): string {
  const cache: StatCache = {writtenAt: Date.now(), dirs: new Map()}
  const visit = (treeId: Oid, abs: string, rel: string, size: number): void => {
    const st = fastLstat(abs)
    if (!st) return
    const dir: CachedDir = {rel, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, treeId: Buffer.from(treeId, 'hex'), size, entries: []}
    const entries: CachedEntry[] = []
    for (const e of repo.readTree(treeId)) {
      const p = `${abs}/${e.name}`
      const s = fastLstat(p)
      if (!s) continue // changed meanwhile: the snapshot will see it
      const ce = makeEntry(e.name, e.kind, e.size, s.ino, s.mtimeMs, s.ctimeMs)
      if (e.kind === 'symlink') ce.target = e.target
      else ce.idBuf = Buffer.from(e.id, 'hex')
      entries.push(ce)
      if (e.kind === 'dir') visit(e.id, p, rel === '' ? e.name : `${rel}/${e.name}`, e.size)
    }
    dir.entries = entries
    cache.dirs.set(rel, dir)
  }
  let total = 0
  for (const e of repo.readTree(tree)) if (e.kind !== 'symlink') total += e.size
  visit(tree, root, '', total)
  const dir = join(repo.cacheDir, 'stat')
  mkdirp(dir)
  const path = join(dir, statCacheName(root))
  atomicWrite(path, encodeStatCache(cache), {sync: false})
  return path
}
