/**
 * `velo snapshot MNT` and `velo diff REV MNT` on a velo mount: the mount's tree is built from the
 * lower snapshot and the upper layer on disk (overlayTree), in time proportional to what changed.
 * The new snapshot's first parent is the previous snapshot of this upper layer, or the mounted one.
 */
import {newSnapshot, type SnapshotOptions, type SnapshotResult} from '../api/snapshot.js'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import type {WrittenPack} from '../pack/PackWriter.js'
import {assertRefName} from '../refs/RefStore.js'
import {Repository} from '../repo/Repository.js'
import {refNaming} from '../repo/settings.js'
import {IngestPool} from '../snapshot/IngestPool.js'
import {refNameFor} from '../snapshot/refNameFor.js'
import {mkdirp} from '../util/fsx.js'
import {readLayerInfo, writeLayerInfo} from './Layer.js'
import {overlayTree, type OverlayTreeResult} from './overlayTree.js'
import type {MountRecord} from './registry.js'

async function treeOf(repo: Repository, rec: MountRecord, pool: IngestPool, writeTree: (id: Uint8Array, bytes: Buffer) => void, has: (id: Uint8Array) => boolean, onWarning?: (m: string) => void): Promise<OverlayTreeResult> {
  const base = repo.readSnapshot(rec.snapshot)
  if (!rec.upper) return {tree: base.tree, size: -1, upperFiles: 0, upperDirs: 0, upperSymlinks: 0, hashedBytes: 0}
  return overlayTree({readTree: (t) => repo.readTree(t), base: base.tree, upperRoot: `${rec.upper}/root`, pool, has, writeTree, onWarning})
}

/** Root tree id of a mount as it is now; new tree objects go to `trees`, nothing is stored. */
export async function mountTree(repo: Repository, rec: MountRecord, trees: Map<string, Buffer>): Promise<Oid> {
  mkdirp(repo.tmpDir)
  const pool = new IngestPool({packsDir: repo.packsDir, tmpDir: repo.tmpDir, level: 0, dryRun: true, store: repo.packs})
  try {
    const r = await treeOf(
      repo,
      rec,
      pool,
      (id, bytes) => trees.set(Buffer.from(id).toString('hex'), bytes),
      (id) => trees.has(Buffer.from(id).toString('hex')) || repo.packs.has(id),
    )
    await pool.finish()
    return r.tree
  } catch (err) {
    await pool.abort()
    throw err
  }
}

export async function snapshotMount(repo: Repository, rec: MountRecord, o: SnapshotOptions): Promise<SnapshotResult> {
  const ref = o.noRef ? null : (o.ref ?? refNameFor(rec.mountpoint, refNaming(repo.config)))
  if (ref) assertRefName(ref)
  const info = rec.upper ? readLayerInfo(rec.upper) : undefined
  const first = info?.lastSnapshot ?? rec.snapshot
  mkdirp(repo.tmpDir)
  const pool = new IngestPool({packsDir: repo.packsDir, tmpDir: repo.tmpDir, level: repo.compressionLevel, threads: o.threads, store: repo.packs})
  const meta = repo.metaWriter()
  const written: WrittenPack[] = []
  let t: OverlayTreeResult
  let id: Oid
  let refWas: Oid | null = null
  try {
    t = await treeOf(repo, rec, pool, (tid, bytes) => meta.addObject(tid, ObjectType.tree, bytes), (x) => repo.packs.has(x), o.onWarning)
    written.push(...(await pool.finish()))
    refWas = ref ? (repo.refs.read(ref) ?? null) : null
    id = Repository.addSnapshot(meta, newSnapshot(t.tree, [first, ...(o.parents ?? []).filter((p) => p !== first)], o))
    written.push(...meta.finish())
  } catch (err) {
    meta.abort()
    await pool.abort()
    throw err
  }
  repo.commitPacks(written)
  if (ref) repo.refs.update(ref, {to: id, expect: refWas, command: o.command ?? 'snapshot', message: o.message, onWarning: o.onWarning})
  if (info && rec.upper) {
    try {
      writeLayerInfo(rec.upper, {...info, lastSnapshot: id})
    } catch (err) {
      o.onWarning?.(`could not record the snapshot in the upper layer: ${(err as Error).message}`)
    }
  }
  const size = t.size >= 0 ? t.size : sizeOf(repo, t.tree)
  return {
    id,
    ref,
    tree: t.tree,
    parent: first,
    files: t.upperFiles,
    dirs: t.upperDirs,
    symlinks: t.upperSymlinks,
    bytes: size,
    hashedFiles: t.upperFiles,
    hashedBytes: t.hashedBytes,
    newObjects: pool.newObjects + written.filter((w) => w.kind === 'meta').reduce((a, w) => a + w.objects, 0),
    newBytes: pool.newBytes,
    storedBytes: written.reduce((a, w) => a + w.bytes, 0),
    skipped: [],
    mount: {mountpoint: rec.mountpoint, snapshot: rec.snapshot, upper: rec.upper},
  }
}

function sizeOf(repo: Repository, tree: Oid): number {
  let n = 0
  for (const e of repo.readTree(tree)) if (e.kind !== 'symlink') n += e.size
  return n
}
