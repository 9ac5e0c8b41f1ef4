/**
 * fsck of one pack: the trailer checksum, the index's claim about the pack, and every object the
 * index lists (BLAKE3 of its bytes; chunk lists by their own checksum). The pack is read once,
 * sequentially, through reused buffers (fresh memory costs a page fault per 4 KiB), and each
 * block is decompressed once. The bytes of verified trees, snapshots, run records and chunk
 * lists are kept (`kept`), so that fsck walks the object graph without reading packs again.
 * Runs in fsck's worker threads (fsckWorker.ts) or, for small repositories, on the main thread.
 */
import {closeSync, fstatSync, openSync, readSync} from 'node:fs'
import {decodeChunkList} from '../objects/chunkList.js'
import {createHasher, hash} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {BLOCK_HEADER, CODEC_RAW, ObjectType, decodeBlockHeader} from '../pack/block.js'
import {zstdDecompressInto} from '../pack/codec.js'
import type {PackIndex} from '../pack/packIndex.js'
import {PACK_HEADER, PACK_MAGIC} from '../pack/PackWriter.js'
import {isErrno} from '../util/errors.js'
import {ChunkStreams, type StreamVerdict, type StreamedFile} from './ChunkStreams.js'
import type {PackFile} from './packFiles.js'

export interface DamagedObject {
  id: Oid
  type: number
  message: string
}

export interface PackVerification {
  name: string
  /** Problems of the file as a whole. */
  errors: string[]
  damaged: DamagedObject[]
  objects: number
  bytes: number
  kept: KeptObjects
  /** Chunked files whose chunks are all in this pack, checked as a whole while they went by. */
  streamed: StreamVerdict[]
}

/** Verified objects' bytes, by index position: object k is bytes[starts[k], starts[k] + lengths[k]) and sits at index position positions[k]. */
export interface KeptObjects {
  positions: Int32Array
  starts: Int32Array
  lengths: Int32Array
  bytes: Uint8Array
}

/** Collects kept objects into one growing buffer (sent to the main thread as one transfer). */
class Keeper {
  private pos: number[] = []
  private st: number[] = []
  private len: number[] = []
  private buf = Buffer.allocUnsafeSlow(64 << 10)
  private used = 0

  add(position: number, data: Uint8Array): void {
    if (this.used + data.length > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.used + data.length, this.buf.length * 2))
      this.buf.copy(bigger, 0, 0, this.used)
      this.buf = bigger
    }
    this.buf.set(data, this.used)
    this.pos.push(position)
    this.st.push(this.used)
    this.len.push(data.length)
    this.used += data.length
  }

  result(): KeptObjects {
    // A fresh, exactly sized buffer: it owns its memory, so it can be transferred.
    const bytes = new Uint8Array(this.used)
    bytes.set(this.buf.subarray(0, this.used))
    return {positions: Int32Array.from(this.pos), starts: Int32Array.from(this.st), lengths: Int32Array.from(this.len), bytes}
  }
}

const KEEP = new Set<number>([ObjectType.tree, ObjectType.snapshot, ObjectType.run, ObjectType.chunkList])

let window = Buffer.allocUnsafeSlow(8 << 20)
let scratch = Buffer.allocUnsafeSlow(4 << 20)

export function verifyPack(file: PackFile, index: PackIndex, chunked: StreamedFile[] = []): PackVerification {
  const keeper = new Keeper()
  const streams = new ChunkStreams(chunked)
  const res: PackVerification = {name: file.name, errors: [], damaged: [], objects: index.count, bytes: 0, kept: undefined as unknown as KeptObjects, streamed: []}
  let fd: number
  try {
    fd = openSync(file.packPath, 'r')
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err
    res.errors.push('the pack file is missing (its index is still there)')
    for (let i = 0; i < index.count; i++) res.damaged.push({id: index.oidAt(i), type: index.typeAt(i), message: 'its pack file is missing'})
    res.kept = keeper.result()
    res.streamed = streams.verdicts()
    return res
  }
  try {
    verifyOpen(fd, file, index, res, keeper, streams)
  } finally {
    closeSync(fd)
    streams.close()
  }
  res.kept = keeper.result()
  res.streamed = streams.verdicts()
  return res
}

function verifyOpen(fd: number, file: PackFile, index: PackIndex, res: PackVerification, keeper: Keeper, streams: ChunkStreams): void {
  const size = fstatSync(fd).size
  res.bytes = size
  // Index entries by block, in pack order.
  const order = new Array<number>(index.count)
  const blockOf = new Float64Array(index.count)
  for (let i = 0; i < index.count; i++) {
    order[i] = i
    blockOf[i] = index.record(i).blockOffset
  }
  order.sort((a, b) => blockOf[a] - blockOf[b])
  let next = 0 // position in `order`
  const damage = (i: number, message: string): void => {
    res.damaged.push({id: index.oidAt(i), type: index.typeAt(i), message})
  }
  if (size < PACK_HEADER + 32) {
    res.errors.push(`pack file is truncated (${size} bytes)`)
    for (const i of order) damage(i, 'its pack file is truncated')
    return
  }
  const end = size - 32
  const hasher = createHasher()
  let wStart = 0
  let wLen = 0
  let hashed = 0
  /** Makes bytes [pos, pos + n) available in the window; false at end of file. */
  const ensure = (pos: number, n: number): boolean => {
    if (pos >= wStart && pos + n <= wStart + wLen) return true
    if (pos + n > size) return false
    const keep = Math.max(0, wStart + wLen - pos)
    if (n > window.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(n, window.length * 2))
      window.copy(bigger, 0, pos - wStart, pos - wStart + keep)
      window = bigger
    } else if (keep > 0) window.copy(window, 0, pos - wStart, pos - wStart + keep)
    wStart = pos
    wLen = keep
    while (wLen < n) {
      const got = readSync(fd, window, wLen, Math.min(window.length - wLen, size - (wStart + wLen)), wStart + wLen)
      if (got === 0) return false
      wLen += got
    }
    // Hash what is new, up to the trailer.
    const upTo = Math.min(end, wStart + wLen)
    if (upTo > hashed) {
      hasher.update(window.subarray(hashed - wStart, upTo - wStart))
      hashed = upTo
    }
    return true
  }
  ensure(0, PACK_HEADER)
  const head = window.subarray(0, PACK_HEADER)
  if (!head.subarray(0, 4).equals(PACK_MAGIC) || head[4] > 1 || head[5] || head[6] || head[7]) res.errors.push('bad pack header')
  else if ((head[4] === 1 ? 'meta' : 'data') !== index.kind) res.errors.push(`the pack is a ${head[4] === 1 ? 'meta' : 'data'} pack but its index says ${index.kind}`)
  let pos = PACK_HEADER
  while (pos < end) {
    let length: number
    let header
    try {
      if (!ensure(pos, BLOCK_HEADER)) throw new RangeError('truncated')
      header = decodeBlockHeader(window.subarray(pos - wStart, pos - wStart + BLOCK_HEADER))
      length = BLOCK_HEADER + header.storedLength
      if (pos + length > end) throw new RangeError('block runs past the end of the pack')
    } catch (err) {
      res.errors.push(`unreadable block header at offset ${pos}: ${(err as Error).message}`)
      break
    }
    // Entries that point before this block point at no block start.
    while (next < order.length && blockOf[order[next]] < pos) damage(order[next++], `the index points at offset ${blockOf[order[next - 1]]}, where no block starts`)
    const first = next
    while (next < order.length && blockOf[order[next]] === pos) next++
    ensure(pos, length) // every byte is read: the trailer checksum covers them all
    if (first < next) {
      const stored = window.subarray(pos - wStart + BLOCK_HEADER, pos - wStart + length)
      let payload: Buffer | undefined
      let error = ''
      try {
        if (header.codec === CODEC_RAW) {
          if (header.rawLength !== header.storedLength) throw new RangeError('raw block length mismatch')
          payload = stored
        } else {
          if (scratch.length < header.rawLength) scratch = Buffer.allocUnsafeSlow(Math.max(header.rawLength, scratch.length * 2))
          let n: number
          try {
            n = zstdDecompressInto(scratch.subarray(0, header.rawLength), stored)
          } catch (err) {
            throw new RangeError(`zstd: ${(err as Error).message}`)
          }
          if (n !== header.rawLength) throw new RangeError('decompressed length mismatch')
          payload = scratch.subarray(0, header.rawLength)
        }
      } catch (err) {
        error = (err as Error).message
      }
      for (let k = first; k < next; k++) {
        const i = order[k]
        const rec = index.record(i)
        if (rec.blockLength !== length) damage(i, `the index gives its block at offset ${pos} a length of ${rec.blockLength}, the pack ${length}`)
        else if (!payload) damage(i, `its block at offset ${pos} is damaged (${error})`)
        else if (rec.offset + rec.length > payload.length) damage(i, 'it lies outside its block')
        else {
          const data = payload.subarray(rec.offset, rec.offset + rec.length)
          const id = index.idAt(i)
          if (rec.type === ObjectType.chunkList) {
            try {
              decodeChunkList(data, `chunk list ${id.toString('hex')}`)
              keeper.add(i, data)
            } catch (err) {
              damage(i, (err as Error).message)
            }
          } else if (!hash(data).equals(id)) damage(i, 'BLAKE3 mismatch: its bytes changed')
          else if (KEEP.has(rec.type)) keeper.add(i, data)
          else if (rec.type === ObjectType.blob && !streams.empty) streams.offer(id, data)
        }
      }
    }
    pos += length
  }
  while (next < order.length) damage(order[next++], pos < end ? `its block is beyond an unreadable part of the pack (from offset ${pos})` : 'the index points past the last block')
  // The rest of the file (after a stop) must still be hashed to judge the trailer.
  while (hashed < end) {
    if (!ensure(hashed, Math.min(window.length, end - hashed))) break
  }
  const trailer = Buffer.allocUnsafe(32)
  readSync(fd, trailer, 0, 32, end)
  const sum = hasher.digest()
  if (!sum.equals(trailer)) res.errors.push('pack checksum (trailer) mismatch: the file is damaged or truncated')
  if (!index.packChecksum.equals(trailer)) res.errors.push('the index describes another pack (its pack checksum differs from the pack trailer)')
  else if (sum.equals(trailer) && trailer.toString('hex') !== file.name.slice(2)) res.errors.push('the pack file name does not match its checksum')
}
