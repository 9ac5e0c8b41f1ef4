/**
 * Chunk list codec: how a chunked file is stored. The object is filed under the file's id
 * (BLAKE3 of the whole content); its bytes list the chunks whose concatenation is the content.
 * Layout (docs/format.md, "chunk list"):
 *   "VCL1" varint totalSize varint count, count x (varint size, 32-byte chunk id), 32-byte BLAKE3 of all
 *   preceding bytes (the object cannot be verified by its id without reading every chunk).
 */
import {ByteReader, varintLength, writeVarint} from '../util/varint.js'
import {VeloError} from '../util/errors.js'
import {hash} from './hash.js'
import {type Oid, oidFromBytes} from './oid.js'

export const CHUNK_LIST_MAGIC = Buffer.from('VCL1')

export interface Chunk {
  id: Oid
  size: number
}

export function encodeChunkList(chunks: readonly Chunk[]): Buffer {
  let total = 0
  let len = 4 + varintLength(chunks.length) + 32
  for (const c of chunks) {
    total += c.size
    len += varintLength(c.size) + 32
  }
  len += varintLength(total)
  const buf = Buffer.allocUnsafe(len)
  CHUNK_LIST_MAGIC.copy(buf, 0)
  let pos = writeVarint(buf, 4, total)
  pos = writeVarint(buf, pos, chunks.length)
  for (const c of chunks) {
    pos = writeVarint(buf, pos, c.size)
    pos += Buffer.from(c.id, 'hex').copy(buf, pos)
  }
  hash(buf.subarray(0, pos)).copy(buf, pos)
  return buf
}

export function decodeChunkList(buf: Uint8Array, where = 'chunk list'): {size: number; chunks: Chunk[]} {
  const bad = (msg: string): never => {
    throw new VeloError('ERR_VELO_CORRUPT', `corrupt ${where}: ${msg}`, {hint: 'run velo fsck'})
  }
  if (buf.length < 4 + 2 + 32 || Buffer.compare(Buffer.from(buf.buffer, buf.byteOffset, 4), CHUNK_LIST_MAGIC) !== 0) {
    bad('bad magic')
  }
  const body = buf.subarray(0, buf.length - 32)
  if (!hash(body).equals(buf.subarray(buf.length - 32))) bad('checksum mismatch')
  try {
    const r = new ByteReader(body, where)
    r.pos = 4
    const size = r.varint()
    const count = r.varint()
    const chunks: Chunk[] = []
    let sum = 0
    for (let i = 0; i < count; i++) {
      const s = r.varint()
      chunks.push({size: s, id: oidFromBytes(r.bytes(32))})
      sum += s
    }
    if (r.remaining !== 0) r.fail('trailing bytes')
    if (sum !== size) r.fail('chunk sizes do not add up')
    return {size, chunks}
  } catch (err) {
    return bad((err as Error).message)
  }
}
