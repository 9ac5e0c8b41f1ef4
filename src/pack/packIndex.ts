/**
 * Pack index codec and lookup: a sorted table of ids with a 256-entry fanout (as git's idx v2).
 * Layout (docs/format.md, "pack index"):
 *   "VIX1" u8 kind (0 data, 1 metadata) 3 bytes zero  u32le count  u32le fanout[256]
 *   count x 32-byte ids, ascending
 *   count x 24-byte records: u32le blockOffsetLow u16le blockOffsetHigh u8 type u8 0
 *                            u32le blockLength u32le offsetInPayload u32le length u32le 0
 *   32-byte pack checksum (the pack's trailer)  32-byte BLAKE3 of every preceding index byte
 */
import {hash} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'

export const INDEX_MAGIC = Buffer.from('VIX1')
const HEAD = 8 + 4 + 256 * 4
const REC = 24

export type PackKind = 'data' | 'meta'

export interface IndexRecord {
  type: number
  blockOffset: number
  blockLength: number
  offset: number
  length: number
}

export interface IndexEntry extends IndexRecord {
  id: Uint8Array
}

export function encodePackIndex(kind: PackKind, entries: IndexEntry[], packChecksum: Uint8Array): Buffer {
  const sorted = entries.slice().sort((a, b) => Buffer.compare(a.id, b.id))
  // Drop exact duplicates (the same object twice in one pack): keep the first.
  const uniq: IndexEntry[] = []
  for (const e of sorted) if (uniq.length === 0 || Buffer.compare(uniq[uniq.length - 1].id, e.id) !== 0) uniq.push(e)
  const n = uniq.length
  const buf = Buffer.alloc(HEAD + n * 32 + n * REC + 64)
  INDEX_MAGIC.copy(buf, 0)
  buf[4] = kind === 'meta' ? 1 : 0
  buf.writeUInt32LE(n, 8)
  const counts = new Uint32Array(256)
  for (const e of uniq) counts[e.id[0]]++
  let acc = 0
  for (let i = 0; i < 256; i++) {
    acc += counts[i]
    buf.writeUInt32LE(acc, 12 + i * 4)
  }
  let idPos = HEAD
  let recPos = HEAD + n * 32
  for (const e of uniq) {
    buf.set(e.id, idPos)
    idPos += 32
    buf.writeUInt32LE(e.blockOffset % 0x100000000, recPos)
    buf.writeUInt16LE(Math.floor(e.blockOffset / 0x100000000), recPos + 4)
    buf[recPos + 6] = e.type
    buf.writeUInt32LE(e.blockLength, recPos + 8)
    buf.writeUInt32LE(e.offset, recPos + 12)
    buf.writeUInt32LE(e.length, recPos + 16)
    recPos += REC
  }
  buf.set(packChecksum, recPos)
  hash(buf.subarray(0, recPos + 32)).copy(buf, recPos + 32)
  return buf
}

export class PackIndex {
  readonly kind: PackKind
  readonly count: number
  readonly packChecksum: Buffer
  private readonly recBase: number

  /** Validates structure and checksum; throws RangeError on any damage. */
  constructor(readonly buf: Buffer, verifyChecksum = true) {
    if (buf.length < HEAD + 64 || !buf.subarray(0, 4).equals(INDEX_MAGIC)) throw new RangeError('bad index magic')
    if (buf[4] > 1 || buf[5] || buf[6] || buf[7]) throw new RangeError('bad index header')
    this.kind = buf[4] === 1 ? 'meta' : 'data'
    this.count = buf.readUInt32LE(8)
    if (buf.length !== HEAD + this.count * (32 + REC) + 64) throw new RangeError('index length does not match its count')
    if (buf.readUInt32LE(12 + 255 * 4) !== this.count) throw new RangeError('bad fanout table')
    this.recBase = HEAD + this.count * 32
    const end = this.recBase + this.count * REC
    this.packChecksum = buf.subarray(end, end + 32)
    if (verifyChecksum && !hash(buf.subarray(0, end + 32)).equals(buf.subarray(end + 32))) {
      throw new RangeError('index checksum mismatch')
    }
    checkOrder(buf, this.count)
  }

  /** Position of `id` in the table, or -1. */
  find(id: Uint8Array): number {
    const b = this.buf
    const first = id[0]
    let lo = first === 0 ? 0 : b.readUInt32LE(12 + (first - 1) * 4)
    let hi = b.readUInt32LE(12 + first * 4)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const c = compareAt(b, HEAD + mid * 32, id)
      if (c === 0) return mid
      if (c < 0) lo = mid + 1
      else hi = mid
    }
    return -1
  }

  idAt(i: number): Buffer {
    return this.buf.subarray(HEAD + i * 32, HEAD + i * 32 + 32)
  }

  oidAt(i: number): Oid {
    return this.idAt(i).toString('hex') as Oid
  }

  record(i: number): IndexRecord {
    const b = this.buf
    const p = this.recBase + i * REC
    return {
      blockOffset: b.readUInt32LE(p) + b.readUInt16LE(p + 4) * 0x100000000,
      type: b[p + 6],
      blockLength: b.readUInt32LE(p + 8),
      offset: b.readUInt32LE(p + 12),
      length: b.readUInt32LE(p + 16),
    }
  }

  typeAt(i: number): number {
    return this.buf[this.recBase + i * REC + 6]
  }

  /** Ids starting with the hex `prefix` (at most `limit`). */
  findPrefix(prefix: string, limit = 10): number[] {
    const padded = prefix.length % 2 ? prefix + '0' : prefix
    const lowKey = Buffer.from(padded, 'hex')
    const first = lowKey[0]
    let lo = first === 0 ? 0 : this.buf.readUInt32LE(12 + (first - 1) * 4)
    let hi = this.buf.readUInt32LE(12 + first * 4)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareAt(this.buf, HEAD + mid * 32, lowKey) < 0) lo = mid + 1
      else hi = mid
    }
    const out: number[] = []
    for (let i = lo; i < this.count && out.length < limit; i++) {
      if (!this.oidAt(i).startsWith(prefix)) break
      out.push(i)
    }
    return out
  }
}

/**
 * Lookups rely on order, which a checksum cannot vouch for (anyone can recompute it): the fanout
 * must count the ids per first byte and the ids must be strictly ascending (no duplicates).
 */
function checkOrder(buf: Buffer, count: number): void {
  let i = 0
  for (let b = 0; b < 256; b++) {
    const end = buf.readUInt32LE(12 + b * 4)
    if (end < i || end > count) throw new RangeError('bad fanout table')
    for (; i < end; i++) {
      const p = HEAD + i * 32
      if (buf[p] !== b) throw new RangeError('bad fanout table: an id is outside its bucket')
      if (i > 0) {
        let k = 1
        while (k < 32 && buf[p + k] === buf[p - 32 + k]) k++
        if (buf[p] === buf[p - 32] && (k === 32 || buf[p + k] < buf[p - 32 + k])) throw new RangeError('index ids are not sorted or not unique')
      }
    }
  }
}

/** Compares buf[pos, pos + key.length) with key. */
function compareAt(buf: Buffer, pos: number, key: Uint8Array): number {
  for (let i = 0; i < key.length; i++) {
    const d = buf[pos + i] - key[i]
    if (d !== 0) return d
  }
  return 0
}
