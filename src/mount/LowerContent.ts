/**
 * Reads lower-layer file content by range, straight from the repository's packs: only the chunks
 * that overlap the range are read, each verified (BLAKE3) once and then kept in a bounded LRU
 * cache, so repeated reads of a file cost a copy.
 * With a `fetcher` (lazy checkout of a remote snapshot, RemoteContent.ts), content missing from
 * the repository is fetched first: such a read answers asynchronously, every other read stays
 * synchronous.
 */
import {EMPTY_BLOB, type Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import type {PackStore} from '../store/PackStore.js'
import {VeloError} from '../util/errors.js'

/** Brings missing file content into the repository (verified) before it is read. */
export interface ContentFetcher {
  /** Whether the object (a file's blob or chunk list) is in the repository. */
  has(id: Oid): boolean
  /** Makes the file's content present: the bytes of `range`, or all of it. */
  ensure(id: Oid, range?: {offset: number; length: number}): Promise<void>
}

/** A read ahead of the kernel's request when content must be fetched anyway (one request, not many). */
const FETCH_AHEAD = 1 << 20

function isMissing(err: unknown): boolean {
  return err instanceof VeloError && err.code === 'ERR_VELO_NOT_FOUND'
}

interface ChunkMap {
  ids: Oid[]
  /** ends[i] is the file offset just past chunk i. */
  ends: number[]
}

export type ContentSource = Pick<PackStore, 'read' | 'chunksOf'>

export class LowerContent {
  private readonly data = new Map<Oid, Buffer>()
  private dataBytes = 0
  private readonly maps = new Map<Oid, ChunkMap>()
  /** Set for lazy mounts: fetches what the repository lacks. */
  fetcher?: ContentFetcher

  constructor(
    private readonly packs: ContentSource,
    private readonly cacheBytes = 64 << 20,
  ) {}

  private chunkMap(id: Oid, size: number): ChunkMap {
    let m = this.maps.get(id)
    if (m) return m
    // chunksOf takes an unknown id for a plain blob: a missing chunk list must not be cached as one.
    if (this.fetcher && !this.fetcher.has(id)) throw new VeloError('ERR_VELO_NOT_FOUND', `object ${id} is not in the repository`, {data: {oid: id}})
    const chunks = this.packs.chunksOf(id, size)
    const ends: number[] = new Array(chunks.length)
    let end = 0
    for (let i = 0; i < chunks.length; i++) ends[i] = end += chunks[i].size
    m = {ids: chunks.map((c) => c.id), ends}
    if (this.maps.size >= 4096) this.maps.delete(this.maps.keys().next().value as Oid)
    this.maps.set(id, m)
    return m
  }

  /** A verified chunk (or whole small file), from the cache when possible. */
  chunk(id: Oid): Buffer {
    const hit = this.data.get(id)
    if (hit) {
      this.data.delete(id)
      this.data.set(id, hit)
      return hit
    }
    let buf = this.packs.read(id, ObjectType.blob).data
    // Small objects share a decompressed block with their neighbours: copy them out so the cache
    // does not pin whole blocks.
    if (buf.length < 1 << 17 && buf.buffer.byteLength > buf.length * 2) buf = Buffer.from(buf)
    if (buf.length <= this.cacheBytes / 8) {
      this.data.set(id, buf)
      this.dataBytes += buf.length
      while (this.dataBytes > this.cacheBytes) {
        const [k, old] = this.data.entries().next().value as [Oid, Buffer]
        this.data.delete(k)
        this.dataBytes -= old.length
      }
    }
    return buf
  }

  /**
   * Copies up to `len` bytes of file `id` (of `size` bytes) at `offset` into `buf`; returns the
   * count (a promise when content had to be fetched first).
   */
  read(id: Oid, size: number, buf: Buffer, len: number, offset: number): number | Promise<number> {
    if (!this.fetcher) return this.readLocal(id, size, buf, len, offset)
    try {
      return this.readLocal(id, size, buf, len, offset)
    } catch (err) {
      if (!isMissing(err)) throw err
      const length = Math.min(size - offset, Math.max(len, FETCH_AHEAD))
      return this.fetcher.ensure(id, {offset, length}).then(() => {
        this.maps.delete(id)
        return this.readLocal(id, size, buf, len, offset)
      })
    }
  }

  private readLocal(id: Oid, size: number, buf: Buffer, len: number, offset: number): number {
    if (offset >= size || len <= 0 || id === EMPTY_BLOB) return 0
    const end = Math.min(size, offset + len)
    const m = this.chunkMap(id, size)
    // First chunk that ends after `offset`.
    let lo = 0
    let hi = m.ends.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (m.ends[mid] <= offset) lo = mid + 1
      else hi = mid
    }
    let pos = offset
    let out = 0
    for (let i = lo; i < m.ids.length && pos < end; i++) {
      const start = i === 0 ? 0 : m.ends[i - 1]
      const data = this.chunk(m.ids[i])
      const from = pos - start
      const n = Math.min(data.length - from, end - pos)
      data.copy(buf, out, from, from + n)
      out += n
      pos += n
    }
    return out
  }

  /** Calls `fn` with the file's content in order, chunk by chunk, up to `limit` bytes. */
  async forEachChunk(id: Oid, size: number, limit: number, fn: (data: Buffer) => Promise<void>): Promise<void> {
    if (size === 0 || limit <= 0 || id === EMPTY_BLOB) return
    if (this.fetcher) await this.fetcher.ensure(id, {offset: 0, length: Math.min(limit, size)})
    const m = this.chunkMap(id, size)
    let left = Math.min(limit, size)
    for (let i = 0; i < m.ids.length && left > 0; i++) {
      const data = this.chunk(m.ids[i])
      const part = data.length > left ? data.subarray(0, left) : data
      left -= part.length
      await fn(part)
    }
  }
}
