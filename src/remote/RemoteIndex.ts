/**
 * What a remote holds, from its pack indexes: one listing of `packs/`, then only the indexes not
 * cached yet in `<repo>/remotes-cache/<remote>/` (copied from the local packs directory when this
 * repository has the same pack, else downloaded and verified). Lookups are binary searches in the
 * indexes, as in PackStore; no request is ever made per object.
 */
import {existsSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import type {Oid} from '../objects/oid.js'
import {PACK_HEADER} from '../pack/PackWriter.js'
import {PackIndex, type IndexEntry, type IndexRecord} from '../pack/packIndex.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError, isErrno} from '../util/errors.js'
import {atomicWrite, mkdirp} from '../util/fsx.js'
import {mapLimit} from './mapLimit.js'
import {remoteCacheDir} from './RemoteConfig.js'
import {RemoteRepo, indexKey, packNameRe} from './RemoteRepo.js'

export interface RemotePack {
  name: string
  index: PackIndex
  /** Entry positions by block offset, built on first use. */
  blocks?: Map<number, number[]>
  size?: number
}

export interface RemoteLocation {
  pack: RemotePack
  record: IndexRecord
}

export interface IndexSyncProgress {
  phase: 'index'
  done: number
  total: number
  bytes: number
}

export class RemoteIndex {
  constructor(readonly packs: RemotePack[]) {
    // Metadata packs first, as in PackStore.
    this.packs.sort((a, b) => (a.name[0] === b.name[0] ? 0 : a.name[0] === 'm' ? -1 : 1))
  }

  locate(id: Uint8Array): RemoteLocation | undefined {
    for (const pack of this.packs) {
      const i = pack.index.find(id)
      if (i >= 0) return {pack, record: pack.index.record(i)}
    }
    return undefined
  }

  has(id: Uint8Array | Oid): boolean {
    return this.locate(typeof id === 'string' ? Buffer.from(id, 'hex') : id) !== undefined
  }

  typeOf(id: Uint8Array | Oid): number | undefined {
    return this.locate(typeof id === 'string' ? Buffer.from(id, 'hex') : id)?.record.type
  }

  get objectCount(): number {
    return this.packs.reduce((a, p) => a + p.index.count, 0)
  }

  /** The last pack synced (fresh listing) or loaded from the cache. */
  static async sync(repo: Repository, remote: RemoteRepo, o: {onProgress?: (p: IndexSyncProgress) => void} = {}): Promise<RemoteIndex & {downloaded: number; downloadedBytes: number}> {
    const names = await remote.listPacks()
    const dir = remoteCacheDir(repo, remote.name)
    mkdirp(dir)
    const wanted = new Set(names)
    for (const f of safeReaddir(dir)) {
      if (f.endsWith('.idx') && !wanted.has(f.slice(0, -4))) rmSync(join(dir, f), {force: true})
    }
    const packs: RemotePack[] = []
    const missing: string[] = []
    for (const name of names) {
      const cached = loadIndex(join(dir, `${name}.idx`), name)
      if (cached) {
        packs.push({name, index: cached})
        continue
      }
      const local = loadIndex(join(repo.packsDir, `${name}.idx`), name)
      if (local) {
        atomicWrite(join(dir, `${name}.idx`), local.buf, {sync: false})
        packs.push({name, index: local})
        continue
      }
      missing.push(name)
    }
    let done = 0
    let bytes = 0
    o.onProgress?.({phase: 'index', done, total: missing.length, bytes})
    await mapLimit(missing, remote.transport.capabilities.connections, async (name) => {
      const got = await remote.transport.get(indexKey(name))
      if (!got) return // removed since the listing (pruned): not there any more
      let index: PackIndex
      try {
        index = checkIndex(new PackIndex(got.data), name)
      } catch (err) {
        throw new VeloError('ERR_VELO_CORRUPT', `index ${name} on ${remote.location} is damaged: ${(err as Error).message}`, {
          hint: 'push again from a repository that has this pack, or remove the pack and its index from the remote',
          data: {pack: name},
        })
      }
      atomicWrite(join(dir, `${name}.idx`), got.data, {sync: false})
      packs.push({name, index})
      done++
      bytes += got.data.length
      o.onProgress?.({phase: 'index', done, total: missing.length, bytes})
    })
    return Object.assign(new RemoteIndex(packs), {downloaded: done, downloadedBytes: bytes})
  }

  /** The indexes cached by the last sync, without asking the remote (lazy fetches). */
  static loadCached(repo: Repository, remoteName: string): RemoteIndex {
    const dir = remoteCacheDir(repo, remoteName)
    const packs: RemotePack[] = []
    for (const f of safeReaddir(dir)) {
      if (!f.endsWith('.idx')) continue
      const name = f.slice(0, -4)
      const index = loadIndex(join(dir, f), name)
      if (index) packs.push({name, index})
    }
    return new RemoteIndex(packs)
  }

  /** Adds indexes just uploaded by a push to the cache. */
  static remember(repo: Repository, remoteName: string, name: string, idx: Uint8Array): void {
    const dir = remoteCacheDir(repo, remoteName)
    mkdirp(dir)
    if (!existsSync(join(dir, `${name}.idx`))) atomicWrite(join(dir, `${name}.idx`), idx, {sync: false})
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return []
    throw err
  }
}

function checkIndex(index: PackIndex, name: string): PackIndex {
  if (!packNameRe.test(name)) throw new RangeError('bad pack name')
  if (index.packChecksum.toString('hex') !== name.slice(2)) throw new RangeError('index names another pack')
  if ((index.kind === 'meta') !== name.startsWith('m-')) throw new RangeError('index kind does not match the pack name')
  return index
}

/** A valid index for `name` at path, or undefined (missing or damaged: a damaged cache entry is dropped). */
function loadIndex(path: string, name: string): PackIndex | undefined {
  let buf: Buffer
  try {
    buf = readFileSync(path)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    throw err
  }
  try {
    return checkIndex(new PackIndex(buf), name)
  } catch {
    return undefined
  }
}

/** Entries of the block at `blockOffset` (every object stored in it). */
export function blockEntries(pack: RemotePack, blockOffset: number): IndexEntry[] {
  if (!pack.blocks) {
    const m = new Map<number, number[]>()
    for (let i = 0; i < pack.index.count; i++) {
      const off = pack.index.record(i).blockOffset
      let l = m.get(off)
      if (!l) m.set(off, (l = []))
      l.push(i)
    }
    pack.blocks = m
  }
  return (pack.blocks.get(blockOffset) ?? []).map((i) => ({id: pack.index.idAt(i), ...pack.index.record(i)}))
}

/** Size of the pack file, from its index: header, blocks, 32-byte trailer. */
export function packSize(pack: RemotePack): number {
  if (pack.size === undefined) {
    let end = PACK_HEADER
    for (let i = 0; i < pack.index.count; i++) {
      const r = pack.index.record(i)
      end = Math.max(end, r.blockOffset + r.blockLength)
    }
    pack.size = end + 32
  }
  return pack.size
}
