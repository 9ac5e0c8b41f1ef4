/**
 * Writes pack files: blocks appended to a temp file, then the trailer checksum, fsync, rename to
 * `packs/<d|m>-<checksum>.pack`, then the index the same way. A pack without an index is invisible
 * to readers, so a crash at any point leaves a readable repository.
 * Pack layout (docs/format.md, "pack"): "VPK1" u8 kind 3 bytes zero, blocks, 32-byte BLAKE3 trailer.
 */
import {closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import {createHasher, type StreamHasher} from '../objects/hash.js'
import {fsError} from '../util/errors.js'
import {durable, tempName, writeAll} from '../util/fsx.js'
import {BlockBuilder, type SealedBlock} from './block.js'
import {encodePackIndex, type IndexEntry, type PackKind} from './packIndex.js'

export const PACK_MAGIC = Buffer.from('VPK1')
export const PACK_HEADER = 8

export interface PackWriterOptions {
  packsDir: string
  tmpDir: string
  kind: PackKind
  level: number
  /** Start a new pack once this many bytes are written. */
  maxPackBytes?: number
  /** Target raw size of a block of small objects. */
  blockTarget?: number
}

export interface WrittenPack {
  name: string
  kind: PackKind
  bytes: number
  objects: number
}

export class PackWriter {
  private fd: number | undefined
  private tmp = ''
  private hasher: StreamHasher | undefined
  private pos = 0
  private entries: IndexEntry[] = []
  private builder: BlockBuilder | undefined
  readonly written: WrittenPack[] = []
  /** Bytes of packs written so far (including the current one). */
  bytesWritten = 0

  constructor(private readonly o: PackWriterOptions) {}

  get blockTarget(): number {
    return this.o.blockTarget ?? (Number(process.env.VELO_BLOCK_KIB) || 512) << 10
  }

  /** Adds one object, grouped with others into blocks of about blockTarget bytes. */
  addObject(id: Uint8Array, type: number, bytes: Uint8Array): void {
    this.builder ??= new BlockBuilder()
    if (this.builder.count > 0 && this.builder.size + bytes.length > this.blockTarget) this.flushBlock()
    this.builder.add(id, type, bytes)
    if (this.builder.size >= this.blockTarget) this.flushBlock()
  }

  /** Seals the pending block of small objects, if any. */
  flushBlock(): void {
    if (this.builder && this.builder.count > 0) this.addBlock(this.builder.seal(this.o.level))
  }

  /** Appends an already sealed block. */
  addBlock(block: SealedBlock): void {
    if (this.fd === undefined) this.open()
    const at = this.pos
    try {
      writeAll(this.fd!, block.bytes)
    } catch (err) {
      this.abort()
      throw fsError(err, this.o.packsDir, 'writing a pack in')
    }
    this.hasher!.update(block.bytes)
    this.pos += block.bytes.length
    this.bytesWritten += block.bytes.length
    for (const e of block.entries) {
      this.entries.push({id: e.id, type: e.type, offset: e.offset, length: e.length, blockOffset: at, blockLength: block.bytes.length})
    }
    if (this.pos >= (this.o.maxPackBytes ?? 32 << 20)) this.finishPack()
  }

  private open(): void {
    this.tmp = tempName(this.o.tmpDir, 'pack')
    try {
      this.fd = openSync(this.tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o444)
    } catch (err) {
      throw fsError(err, this.o.tmpDir, 'creating a pack in')
    }
    this.hasher = createHasher()
    const head = Buffer.alloc(PACK_HEADER)
    PACK_MAGIC.copy(head)
    head[4] = this.o.kind === 'meta' ? 1 : 0
    writeAll(this.fd, head)
    this.hasher.update(head)
    this.pos = PACK_HEADER
    this.bytesWritten += PACK_HEADER
  }

  private finishPack(): void {
    if (this.fd === undefined) return
    const fd = this.fd
    const sum = this.hasher!.digest()
    const prefix = this.o.kind === 'meta' ? 'm' : 'd'
    const name = `${prefix}-${sum.toString('hex')}`
    try {
      writeAll(fd, sum)
      if (durable) fsyncSync(fd)
      closeSync(fd)
      this.fd = undefined
      renameSync(this.tmp, join(this.o.packsDir, `${name}.pack`))
      const idx = encodePackIndex(this.o.kind, this.entries, sum)
      const idxTmp = tempName(this.o.tmpDir, 'idx')
      const ifd = openSync(idxTmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o444)
      writeAll(ifd, idx)
      if (durable) fsyncSync(ifd)
      closeSync(ifd)
      renameSync(idxTmp, join(this.o.packsDir, `${name}.idx`))
    } catch (err) {
      this.abort()
      throw fsError(err, this.o.packsDir, 'writing a pack in')
    }
    this.bytesWritten += 32
    this.written.push({name, kind: this.o.kind, bytes: this.pos + 32, objects: this.entries.length})
    this.entries = []
    this.pos = 0
  }

  /** Seals everything and returns the packs written. The caller fsyncs the packs directory once. */
  finish(): WrittenPack[] {
    this.flushBlock()
    this.finishPack()
    return this.written
  }

  /** Drops the pack being written (error path). Finished packs stay: they are valid, merely unreferenced. */
  abort(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd)
      } catch {
        /* already closed */
      }
      this.fd = undefined
    }
    if (this.tmp) {
      try {
        unlinkSync(this.tmp)
      } catch {
        /* not created */
      }
    }
    this.entries = []
  }
}
