/**
 * Verification of what arrives from a remote, before it counts as present: a whole pack by its
 * trailer checksum (which is also its name) and every object in it; a single block by every object
 * in it. Blobs, trees and snapshots must hash (BLAKE3) to their id; chunk lists, filed under the
 * id of the whole file, must match their own checksum (the file's id is checked when it is read).
 */
import {hash} from '../objects/hash.js'
import {decodeChunkList} from '../objects/chunkList.js'
import {ObjectType, decodeBlock} from '../pack/block.js'
import {PACK_HEADER, PACK_MAGIC} from '../pack/PackWriter.js'
import type {IndexEntry, PackIndex} from '../pack/packIndex.js'
import {VeloError} from '../util/errors.js'

function corrupt(where: string, what: string): VeloError {
  return new VeloError('ERR_VELO_CORRUPT', `${where}: ${what}`, {
    hint: 'the remote copy is damaged; nothing was installed. Push it again from a repository that has it intact',
    data: {where},
  })
}

/** Checks every listed object of one block (header + stored bytes). Returns the raw payload. */
export function verifyBlock(block: Uint8Array, entries: readonly IndexEntry[], where: string): Buffer {
  let payload: Buffer
  try {
    payload = decodeBlock(block)
  } catch (err) {
    throw corrupt(where, `damaged block (${(err as Error).message})`)
  }
  for (const e of entries) {
    const oid = Buffer.from(e.id).toString('hex')
    if (e.offset + e.length > payload.length) throw corrupt(where, `object ${oid} lies outside its block`)
    const data = payload.subarray(e.offset, e.offset + e.length)
    if (e.type === ObjectType.chunkList) {
      try {
        decodeChunkList(data, `chunk list ${oid}`)
      } catch (err) {
        throw corrupt(where, (err as Error).message)
      }
    } else if (!hash(data).equals(e.id)) {
      throw corrupt(where, `object ${oid} failed verification (BLAKE3 mismatch)`)
    }
  }
  return payload
}

/** Checks a whole pack file against its name and index, and every object the index lists. */
export function verifyPack(buf: Buffer, name: string, index: PackIndex, where: string): void {
  if (buf.length < PACK_HEADER + 32 || !buf.subarray(0, 4).equals(PACK_MAGIC)) throw corrupt(where, 'not a pack (bad magic)')
  if (buf[4] !== (name.startsWith('m-') ? 1 : 0)) throw corrupt(where, 'pack kind does not match its name')
  const body = buf.subarray(0, buf.length - 32)
  const sum = hash(body)
  if (!sum.equals(buf.subarray(buf.length - 32)) || sum.toString('hex') !== name.slice(2)) {
    throw corrupt(where, 'pack checksum mismatch')
  }
  const blocks = new Map<number, IndexEntry[]>()
  for (let i = 0; i < index.count; i++) {
    const r = index.record(i)
    let l = blocks.get(r.blockOffset)
    if (!l) {
      l = []
      blocks.set(r.blockOffset, l)
      if (r.blockOffset < PACK_HEADER || r.blockOffset + r.blockLength > body.length) throw corrupt(where, 'index points outside the pack')
    }
    l.push({id: index.idAt(i), ...r})
  }
  for (const [off, entries] of blocks) verifyBlock(buf.subarray(off, off + entries[0].blockLength), entries, where)
}
