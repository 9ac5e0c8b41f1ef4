/**
 * Reads, hashes, deduplicates and packs file contents. Runs inside the snapshot workers (and on
 * the main thread when only a few files changed). Small files share blocks; large files are
 * split by content-defined chunking, one block per chunk.
 */
import {closeSync, fstatSync, openSync, readSync} from 'node:fs'
import {CHUNK_THRESHOLD, DEFAULT_CHUNK_PARAMS, findCut} from '../chunk/fastcdc.js'
import {encodeChunkList, type Chunk} from '../objects/chunkList.js'
import {createHasher, hash} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {BlockBuilder, ObjectType} from '../pack/block.js'
import {PackWriter, type WrittenPack} from '../pack/PackWriter.js'
import {PackStore} from '../store/PackStore.js'
import {DedupTable, type DedupBuffers} from './DedupTable.js'

export interface IngestOptions {
  packsDir: string
  tmpDir: string
  level: number
  dedup?: DedupBuffers
  /** Hash only: store nothing (velo diff against a directory). */
  dryRun?: boolean
  /** The repository's loaded indexes, on the calling thread (saves loading them again). */
  store?: PackStore
}

export interface IngestResult {
  /** 32-byte content id, or undefined on error. */
  id?: Uint8Array
  size: number
  /** Bytes of new (not deduplicated) content. */
  newBytes: number
  error?: {code: string; message: string}
}

/** Objects up to this size share blocks with others. */
const SMALL = 128 << 10

export class Ingester {
  private readonly writer: PackWriter
  private readonly store: PackStore
  private readonly dedup?: DedupTable
  private readonly local = new Set<string>()
  private readonly small = new BlockBuilder()
  private readonly single = new BlockBuilder()
  private buf = Buffer.allocUnsafeSlow(CHUNK_THRESHOLD + 1)
  private big: Buffer | undefined
  newObjects = 0
  newBytes = 0
  private readonly largeLevel: number

  constructor(private readonly o: IngestOptions) {
    const ll = Number(process.env.VELO_COMPRESSION_LARGE)
    this.largeLevel = process.env.VELO_COMPRESSION_LARGE !== undefined && Number.isInteger(ll) ? ll : o.level
    this.buf.fill(0)
    this.writer = new PackWriter({packsDir: o.packsDir, tmpDir: o.tmpDir, kind: 'data', level: o.level})
    this.store = o.store ?? new PackStore(o.packsDir)
    if (o.dedup) this.dedup = new DedupTable(o.dedup)
  }

  /** True when this ingester must store `id` (nobody has it yet). */
  private claim(id: Uint8Array): boolean {
    if (this.o.dryRun) return false
    if (this.store.locate(id)) return false
    if (this.dedup) return this.dedup.claim(id)
    const k = Buffer.from(id.buffer, id.byteOffset, 32).toString('latin1')
    if (this.local.has(k)) return false
    this.local.add(k)
    return true
  }

  private store1(id: Uint8Array, bytes: Uint8Array): void {
    this.newObjects++
    this.newBytes += bytes.length
    if (bytes.length <= SMALL) {
      if (this.small.count > 0 && this.small.size + bytes.length > this.writer.blockTarget) this.writer.addBlock(this.small.seal(this.o.level))
      this.small.add(id, ObjectType.blob, bytes)
      if (this.small.size >= this.writer.blockTarget) this.writer.addBlock(this.small.seal(this.o.level))
    } else {
      this.single.add(id, ObjectType.blob, bytes)
      this.writer.addBlock(this.single.seal(this.largeLevel))
    }
  }

  /**
   * Hashes, deduplicates and stores a content already in memory as one blob: a whole file up to
   * CHUNK_THRESHOLD, or one chunk of a larger one (tar import). `data` is copied before this returns.
   */
  ingestContent(data: Uint8Array): IngestResult {
    const id = hash(data)
    const before = this.newBytes
    if (this.claim(id)) this.store1(id, data)
    return {id, size: data.length, newBytes: this.newBytes - before}
  }

  ingestFile(path: string, expectedSize: number): IngestResult {
    let fd: number
    try {
      fd = openSync(path, 'r')
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      return {size: expectedSize, newBytes: 0, error: {code: e.code ?? 'EIO', message: e.message}}
    }
    try {
      if (expectedSize > CHUNK_THRESHOLD) return this.ingestLarge(fd, path, expectedSize)
      const buf = this.buf
      let n = 0
      for (;;) {
        const r = readSync(fd, buf, n, buf.length - n, n)
        if (r === 0) break
        n += r
        if (n === buf.length) break
      }
      if (n !== expectedSize) return changed(path, expectedSize, n)
      const data = buf.subarray(0, n)
      const id = hash(data)
      const before = this.newBytes
      if (this.claim(id)) this.store1(id, data)
      return {id, size: n, newBytes: this.newBytes - before}
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      return {size: expectedSize, newBytes: 0, error: {code: e.code ?? 'EIO', message: e.message}}
    } finally {
      closeSync(fd)
    }
  }

  private ingestLarge(fd: number, path: string, expectedSize: number): IngestResult {
    const p = DEFAULT_CHUNK_PARAMS
    this.big ??= Buffer.allocUnsafeSlow(p.max * 4)
    const buf = this.big
    const whole = createHasher()
    const chunks: Chunk[] = []
    const before = this.newBytes
    let start = 0
    let end = 0
    let fileOffset = 0
    let eof = false
    for (;;) {
      if (!eof && end - start < p.max) {
        if (start > 0) {
          buf.copy(buf, 0, start, end)
          end -= start
          start = 0
        }
        while (!eof && end < buf.length) {
          const r = readSync(fd, buf, end, buf.length - end, fileOffset)
          if (r === 0) eof = true
          end += r
          fileOffset += r
        }
      }
      if (start === end) break
      const len = eof && end - start <= p.max ? findCut(buf, start, end, p) : findCut(buf, start, Math.min(end, start + p.max), p)
      const chunk = buf.subarray(start, start + len)
      whole.update(chunk)
      const id = hash(chunk)
      if (this.claim(id)) this.store1(id, chunk)
      chunks.push({id: id.toString('hex') as Oid, size: len})
      start += len
    }
    if (fileOffset !== expectedSize) return changed(path, expectedSize, fileOffset)
    const st = fstatSync(fd)
    if (st.size !== expectedSize) return changed(path, expectedSize, st.size)
    const id = whole.digest()
    if (this.claim(id)) {
      const list = encodeChunkList(chunks)
      this.newObjects++
      this.small.add(id, ObjectType.chunkList, list)
      if (this.small.size >= this.writer.blockTarget) this.writer.addBlock(this.small.seal(this.o.level))
    }
    return {id, size: expectedSize, newBytes: this.newBytes - before}
  }

  /** Seals the last block and the pack; returns the packs written. */
  finish(): WrittenPack[] {
    if (this.small.count > 0) this.writer.addBlock(this.small.seal(this.o.level))
    if (!this.o.store) this.store.close() // a store passed in stays open for its owner
    return this.writer.finish()
  }

  abort(): void {
    this.writer.abort()
    if (!this.o.store) this.store.close()
  }
}

function changed(path: string, expected: number, got: number): IngestResult {
  return {
    size: expected,
    newBytes: 0,
    error: {code: 'ECHANGED', message: `${path} changed while it was read (size ${expected}, read ${got} bytes)`},
  }
}
