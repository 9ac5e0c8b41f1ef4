/** `velo snapshot`: hash a directory into objects, record a snapshot, move its ref. */
import {readFileSync, realpathSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {signBytes, type SigningKey} from '../audit/ed25519.js'
import type {Oid} from '../objects/oid.js'
import {encodeSnapshot, type Snapshot} from '../objects/snapshot.js'
import {ObjectType} from '../pack/block.js'
import type {WrittenPack} from '../pack/PackWriter.js'
import {assertRefName, userName} from '../refs/RefStore.js'
import {withRepoLock} from '../repo/RepoLock.js'
import {Repository} from '../repo/Repository.js'
import {refNaming} from '../repo/settings.js'
import {findMount} from '../mount/registry.js'
import {IngestPool} from '../snapshot/IngestPool.js'
import {refNameFor, statCacheName} from '../snapshot/refNameFor.js'
import {scanTree, type ScanProgress} from '../snapshot/scanTree.js'
import {decodeStatCache, encodeStatCache, entryCount, type StatCache} from '../snapshot/statCache.js'
import {VeloError, isErrno} from '../util/errors.js'
import {atomicWrite, mkdirp} from '../util/fsx.js'

export interface SnapshotOptions {
  dir: string
  ref?: string
  message?: string
  meta?: Record<string, string>
  skipUnreadable?: boolean
  /** Extra parents (the ref's current snapshot is always the first parent). */
  parents?: Oid[]
  /** Record the snapshot without moving any ref. */
  noRef?: boolean
  threads?: number
  command?: string
  onWarning?: (msg: string) => void
  onProgress?: (p: ScanProgress) => void
  /** Sign the snapshot with this key (velo snapshot --sign; velo key generate). */
  sign?: SigningKey
}

export interface SnapshotResult {
  id: Oid
  ref: string | null
  tree: Oid
  parent: Oid | null
  files: number
  dirs: number
  symlinks: number
  bytes: number
  hashedFiles: number
  hashedBytes: number
  newObjects: number
  newBytes: number
  storedBytes: number
  skipped: {path: string; reason: string}[]
  /** Set when DIR was a velo mount: files/dirs/symlinks/hashedFiles then count its upper layer only. */
  mount?: {mountpoint: string; snapshot: Oid; upper: string | null}
}

function loadCache(path: string): StatCache | undefined {
  try {
    return decodeStatCache(readFileSync(path))
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    return undefined
  }
}

/** The snapshot object for `tree`: who, when, the options' message and meta, signed when asked. */
export function newSnapshot(tree: Oid, parents: Oid[], o: Pick<SnapshotOptions, 'message' | 'meta' | 'sign'>): Snapshot {
  const snap: Snapshot = {tree, parents, time: Date.now(), user: userName(), host: hostname(), message: o.message ?? '', meta: o.meta ?? {}}
  if (o.sign) snap.signature = signBytes(o.sign, encodeSnapshot(snap))
  return snap
}

/** Holds the shared repository lock throughout, so that no gc or repack runs meanwhile. */
export async function snapshot(repo: Repository, o: SnapshotOptions): Promise<SnapshotResult> {
  return withRepoLock(repo, 'shared', o.command ?? 'snapshot', () => snapshotLocked(repo, o), {onWarning: o.onWarning})
}

async function snapshotLocked(repo: Repository, o: SnapshotOptions): Promise<SnapshotResult> {
  // A velo mount of this repository: built from its snapshot and upper layer (reads only what changed).
  const mount = findMount(repo.root, o.dir)
  if (mount) return (await import('../mount/snapshotMount.js')).snapshotMount(repo, mount, o)
  let root: string
  try {
    root = realpathSync(o.dir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new VeloError('ERR_VELO_NOT_FOUND', `${o.dir} does not exist`, {hint: 'check the path'})
    throw err
  }
  if (root === repo.root || root.startsWith(repo.root + '/')) {
    throw new VeloError('ERR_VELO_USAGE', `${o.dir} is inside the repository ${repo.root}`, {hint: 'snapshot a directory outside the repository'})
  }
  const ref = o.noRef ? null : (o.ref ?? refNameFor(root, refNaming(repo.config)))
  if (ref) assertRefName(ref)
  const cacheDir = join(repo.cacheDir, 'stat')
  const cachePath = join(cacheDir, statCacheName(root))
  const cache = loadCache(cachePath)
  mkdirp(repo.tmpDir)
  let expectedFiles = 0
  if (cache) for (const d of cache.dirs.values()) expectedFiles += entryCount(d)
  const pool = new IngestPool({packsDir: repo.packsDir, tmpDir: repo.tmpDir, level: repo.compressionLevel, threads: o.threads, expectedFiles})
  const meta = repo.metaWriter()
  const written: WrittenPack[] = []
  const writtenTrees = new Set<string>()
  let id: Oid
  let parent: Oid | null = null
  let scan
  try {
    scan = await scanTree({
      root,
      cache,
      pool,
      has: (x) => repo.packs.has(x),
      writeTree: (tid, bytes) => {
        // Identical subtrees (two copies of a package) are written once.
        const k = Buffer.from(tid).toString('latin1')
        if (writtenTrees.has(k)) return
        writtenTrees.add(k)
        meta.addObject(tid, ObjectType.tree, bytes)
      },
      skipUnreadable: o.skipUnreadable,
      onWarning: o.onWarning,
      onProgress: o.onProgress,
    })
    written.push(...(await pool.finish()))
    parent = ref ? (repo.refs.read(ref) ?? null) : null
    const parents = [...(parent ? [parent] : []), ...(o.parents ?? []).filter((p) => p !== parent)]
    id = Repository.addSnapshot(meta, newSnapshot(scan.tree, parents, o))
    written.push(...meta.finish())
  } catch (err) {
    meta.abort()
    await pool.abort()
    throw err
  }
  repo.commitPacks(written)
  if (ref) {
    repo.refs.update(ref, {to: id, expect: parent, command: o.command ?? 'snapshot', message: o.message, onWarning: o.onWarning})
  }
  if (scan.changed || !cache) {
    try {
      mkdirp(cacheDir)
      atomicWrite(cachePath, encodeStatCache(scan.cache), {sync: false})
    } catch (err) {
      o.onWarning?.(`could not save the stat cache: ${(err as Error).message}`)
    }
  }
  return {
    id,
    ref,
    tree: scan.tree,
    parent,
    files: scan.files,
    dirs: scan.dirs,
    symlinks: scan.symlinks,
    bytes: scan.size,
    hashedFiles: scan.hashedFiles,
    hashedBytes: scan.hashedBytes,
    newObjects: pool.newObjects + written.filter((w) => w.kind === 'meta').reduce((a, w) => a + w.objects, 0),
    newBytes: pool.newBytes,
    storedBytes: written.reduce((a, w) => a + w.bytes, 0),
    skipped: scan.skipped,
  }
}
