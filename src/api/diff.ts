/** `velo diff`: two snapshots, or a snapshot and a directory (hashed with the stat cache, nothing stored). */
import {readFileSync, realpathSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {type Change, diffTrees} from '../diff/diffTrees.js'
import {findMount} from '../mount/registry.js'
import type {Oid} from '../objects/oid.js'
import {decodeTree, type TreeEntry} from '../objects/tree.js'
import type {Repository} from '../repo/Repository.js'
import {IngestPool} from '../snapshot/IngestPool.js'
import {statCacheName} from '../snapshot/refNameFor.js'
import {scanTree, type ScanProgress} from '../snapshot/scanTree.js'
import {decodeStatCache} from '../snapshot/statCache.js'
import {isErrno} from '../util/errors.js'
import {mkdirp} from '../util/fsx.js'

export interface DiffResult {
  from: Oid
  to: Oid | string
  changes: Change[]
}

export function looksLikeDirectory(arg: string): boolean {
  try {
    return statSync(arg).isDirectory()
  } catch {
    return false
  }
}

/** Root tree id of a directory as it is now; its tree objects are kept in `trees`, not stored. */
export async function scanDirectory(repo: Repository, dir: string, trees: Map<string, Buffer>, o: {onProgress?: (p: ScanProgress) => void} = {}): Promise<Oid> {
  const root = realpathSync(dir)
  let cache
  try {
    cache = decodeStatCache(readFileSync(join(repo.cacheDir, 'stat', statCacheName(root))))
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err
  }
  mkdirp(repo.tmpDir)
  const pool = new IngestPool({packsDir: repo.packsDir, tmpDir: repo.tmpDir, level: 0, dryRun: true})
  try {
    const scan = await scanTree({
      root,
      cache,
      pool,
      has: (id) => trees.has(Buffer.from(id).toString('hex')) || repo.packs.has(id),
      writeTree: (id, bytes) => trees.set(Buffer.from(id).toString('hex'), bytes),
      onProgress: o.onProgress,
    })
    await pool.finish()
    return scan.tree
  } catch (err) {
    await pool.abort()
    throw err
  }
}

export async function diff(repo: Repository, a: string, b?: string, o: {onProgress?: (p: ScanProgress) => void} = {}): Promise<DiffResult> {
  const aId = repo.resolveSnapshot(a)
  const aSnap = repo.readSnapshot(aId)
  if (b === undefined) {
    // One revision: what it changed relative to its first parent.
    const parent = aSnap.parents[0] ? repo.readSnapshot(aSnap.parents[0]).tree : null
    return {from: aSnap.parents[0] ?? ('' as Oid), to: aId, changes: diffTrees((o) => repo.readTree(o), parent, aSnap.tree)}
  }
  const from = aSnap.tree
  const trees = new Map<string, Buffer>()
  const read = (oid: Oid): TreeEntry[] => {
    const mem = trees.get(oid)
    return mem ? decodeTree(mem, `tree ${oid}`) : repo.readTree(oid)
  }
  let to: Oid
  let label: string
  // A velo mount of this repository: its tree from the snapshot and the upper layer (only what changed is read).
  const mount = findMount(repo.root, b)
  if (mount) {
    to = await (await import('../mount/snapshotMount.js')).mountTree(repo, mount, trees)
    label = b
  } else if (looksLikeDirectory(b) && !isRevision(repo, b)) {
    to = await scanDirectory(repo, b, trees, o)
    label = b
  } else {
    to = repo.readSnapshot(repo.resolveSnapshot(b)).tree
    label = b
  }
  return {from: aId, to: label, changes: diffTrees(read, from, to)}
}

function isRevision(repo: Repository, s: string): boolean {
  if (s.includes('/') && (s.startsWith('.') || s.startsWith('/'))) return false
  try {
    repo.resolve(s)
    return true
  } catch {
    return false
  }
}
