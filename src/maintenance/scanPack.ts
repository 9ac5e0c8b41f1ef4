/**
 * Reads a whole pack file block by block, independently of its index: the basis of fsck (verify
 * what the index claims), salvage (rebuild what a damaged index or pack still holds) and pack
 * rewriting. Pack layout: "VPK1" u8 kind, 3 zero bytes, blocks, 32-byte BLAKE3 trailer.
 */
import {hash} from '../objects/hash.js'
import {BLOCK_HEADER, decodeBlock, decodeBlockHeader, listPayload} from '../pack/block.js'
import {PACK_HEADER, PACK_MAGIC} from '../pack/PackWriter.js'

export interface ScannedBlock {
  offset: number
  /** Header + stored bytes. */
  length: number
  /** The decoded payload, or undefined when the block is damaged. */
  payload?: Buffer
  items?: {type: number; offset: number; length: number}[]
  error?: string
}

export interface PackScan {
  kind?: 'data' | 'meta'
  /** Problems with the file as a whole (header, trailer, truncation). */
  fileErrors: string[]
  /** The BLAKE3 of everything before the trailer matches the trailer. */
  checksumOk: boolean
  trailer?: Buffer
  blocks: ScannedBlock[]
  /** Offset where block parsing stopped early (unreadable block header), else undefined. */
  stoppedAt?: number
}

/** Splits a pack into blocks; decodes each (with `decode`), never throws on damage. */
export function scanPack(buf: Buffer, o: {decode?: boolean} = {}): PackScan {
  const res: PackScan = {fileErrors: [], checksumOk: false, blocks: []}
  if (buf.length < PACK_HEADER + 32) {
    res.fileErrors.push(`pack file is truncated (${buf.length} bytes)`)
    return res
  }
  if (!buf.subarray(0, 4).equals(PACK_MAGIC) || buf[4] > 1 || buf[5] || buf[6] || buf[7]) res.fileErrors.push('bad pack header')
  else res.kind = buf[4] === 1 ? 'meta' : 'data'
  const end = buf.length - 32
  res.trailer = buf.subarray(end)
  res.checksumOk = hash(buf.subarray(0, end)).equals(res.trailer)
  if (!res.checksumOk) res.fileErrors.push('pack checksum (trailer) mismatch: the file is damaged or truncated')
  let pos = PACK_HEADER
  while (pos < end) {
    let length: number
    try {
      const h = decodeBlockHeader(buf.subarray(pos, pos + BLOCK_HEADER))
      length = BLOCK_HEADER + h.storedLength
      if (pos + length > end) throw new RangeError('block runs past the end of the pack')
    } catch (err) {
      res.stoppedAt = pos
      res.fileErrors.push(`unreadable block header at offset ${pos}: ${(err as Error).message}`)
      break
    }
    const b: ScannedBlock = {offset: pos, length}
    if (o.decode !== false) {
      try {
        b.payload = decodeBlock(buf.subarray(pos, pos + length))
        b.items = listPayload(b.payload)
      } catch (err) {
        b.payload = undefined
        b.items = undefined
        b.error = (err as Error).message
      }
    }
    res.blocks.push(b)
    pos += length
  }
  return res
}
