/**
 * Writes objects that do not come from a directory walk (imports, pulls, mounts): blobs (chunked
 * above the threshold, exactly as a snapshot would store them), trees and snapshots. Contents go
 * to a data pack, trees and snapshots to a metadata pack; nothing is visible until commit().
 */
import {CHUNK_THRESHOLD, DEFAULT_CHUNK_PARAMS, findCut} from '../chunk/fastcdc.js'
import {encodeChunkList, type Chunk} from '../objects/chunkList.js'
import {createHasher, hash, type StreamHasher} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {encodeSnapshot, type Snapshot} from '../objects/snapshot.js'
import {encodeTree, type TreeEntry} from '../objects/tree.js'
import {ObjectType} from '../pack/block.js'
import {PackWriter, type WrittenPack} from '../pack/PackWriter.js'
import type {Repository} from '../repo/Repository.js'
import {mkdirp} from '../util/fsx.js'

export interface BlobSink {
  write(data: Uint8Array): void
  /** Returns the content id (BLAKE3 of all bytes written). */
  finish(): {id: Oid; size: number}
}

export class ObjectWriter {
  private readonly data: PackWriter
  private readonly meta: PackWriter
  private readonly seen = new Set<string>()
  newObjects = 0
  newBytes = 0

  constructor(private readonly repo: Repository, o: {level?: number} = {}) {
    mkdirp(repo.tmpDir)
    this.data = new PackWriter({packsDir: repo.packsDir, tmpDir: repo.tmpDir, kind: 'data', level: o.level ?? repo.compressionLevel})
    this.meta = repo.metaWriter()
  }

  /** True if the object is already stored (in the repository or in this writer). */
  has(id: Uint8Array | Oid): boolean {
    const hex = typeof id === 'string' ? id : Buffer.from(id).toString('hex')
    return this.seen.has(hex) || this.repo.packs.has(hex as Oid)
  }

  private put(w: PackWriter, id: Uint8Array, type: number, bytes: Uint8Array): void {
    const hex = Buffer.from(id).toString('hex')
    // locate(), not has(): has() rescans packs/ on every miss, and most objects written are new.
    if (this.seen.has(hex) || this.repo.packs.locate(id)) return
    this.seen.add(hex)
    this.newObjects++
    this.newBytes += bytes.length
    if (bytes.length > 128 << 10) {
      w.flushBlock()
      w.addObject(id, type, bytes)
      w.flushBlock()
    } else w.addObject(id, type, bytes)
  }

  /** Stores a raw object of a given type under its BLAKE3 id (used when copying objects). */
  putRaw(id: Uint8Array, type: number, bytes: Uint8Array): void {
    const meta = type === ObjectType.tree || type === ObjectType.snapshot || type === ObjectType.run
    this.put(meta ? this.meta : this.data, id, type, bytes)
  }

  writeBlob(content: Uint8Array): Oid {
    if (content.length <= CHUNK_THRESHOLD) {
      // One piece: no copy through a sink (the block builder copies it anyway).
      const id = hash(content)
      this.put(this.data, id, ObjectType.blob, content)
      return id.toString('hex') as Oid
    }
    const s = this.blobSink()
    s.write(content)
    return s.finish().id
  }

  /** Streams a file's content in; large contents are chunked as the snapshot walker does. */
  blobSink(): BlobSink {
    const p = DEFAULT_CHUNK_PARAMS
    let buf = Buffer.allocUnsafe(0)
    let size = 0
    let whole: StreamHasher | undefined
    const chunks: Chunk[] = []
    const emit = (final: boolean): void => {
      whole ??= createHasher()
      let start = 0
      while (buf.length - start >= p.max || (final && start < buf.length)) {
        const avail = Math.min(buf.length, start + p.max)
        const len = findCut(buf, start, avail, p)
        const chunk = buf.subarray(start, start + len)
        whole.update(chunk)
        const id = hash(chunk)
        this.put(this.data, id, ObjectType.blob, chunk)
        chunks.push({id: id.toString('hex') as Oid, size: len})
        start += len
      }
      buf = Buffer.from(buf.subarray(start))
    }
    return {
      write: (d: Uint8Array) => {
        buf = buf.length === 0 ? Buffer.from(d) : Buffer.concat([buf, d])
        size += d.length
        if (size > CHUNK_THRESHOLD && buf.length >= p.max * 2) emit(false)
      },
      finish: () => {
        if (size <= CHUNK_THRESHOLD) {
          const id = hash(buf)
          this.put(this.data, id, ObjectType.blob, buf)
          return {id: id.toString('hex') as Oid, size}
        }
        emit(true)
        const id = whole!.digest()
        this.put(this.data, id, ObjectType.chunkList, encodeChunkList(chunks))
        return {id: id.toString('hex') as Oid, size}
      },
    }
  }

  writeTree(entries: TreeEntry[]): Oid {
    const bytes = encodeTree(entries)
    const id = hash(bytes)
    this.put(this.meta, id, ObjectType.tree, bytes)
    return id.toString('hex') as Oid
  }

  writeSnapshot(s: Snapshot): Oid {
    const bytes = encodeSnapshot(s)
    const id = hash(bytes)
    this.put(this.meta, id, ObjectType.snapshot, bytes)
    return id.toString('hex') as Oid
  }

  /** Seals the packs and makes them durable and visible. Call before moving any ref. */
  commit(): WrittenPack[] {
    const written = [...this.data.finish(), ...this.meta.finish()]
    this.repo.commitPacks(written)
    return written
  }

  abort(): void {
    this.data.abort()
    this.meta.abort()
  }
}
