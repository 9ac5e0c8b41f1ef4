/**
 * Recovers what a damaged pack still holds. With a readable index, every listed object that still
 * verifies is kept; without one (damaged or lost index), ids are recomputed from the bytes: BLAKE3
 * of each object, and for a chunk list the BLAKE3 of its chunks put together (found in this pack
 * or elsewhere in the repository). When the whole pack is sound, its index can simply be rebuilt.
 */
import {readFileSync} from 'node:fs'
import {decodeChunkList} from '../objects/chunkList.js'
import {createHasher, hash} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import type {IndexEntry, PackIndex} from '../pack/packIndex.js'
import type {PackStore} from '../store/PackStore.js'
import {isErrno} from '../util/errors.js'
import {scanPack} from './scanPack.js'

export interface SalvagedObject {
  id: Buffer
  type: number
  data: Buffer
}

export interface Salvage {
  kind: 'data' | 'meta'
  /** Objects that verified. */
  objects: SalvagedObject[]
  /** Objects (or blocks) that could not be recovered. */
  lost: {id?: Oid; message: string}[]
  /** The pack is sound as it is: only its index needs writing (entries for it below). */
  intact: boolean
  entries: IndexEntry[]
  trailer?: Buffer
}

export function salvagePack(path: string, name: string, index: PackIndex | undefined, store: PackStore): Salvage {
  const kind = name.startsWith('m-') ? 'meta' : 'data'
  const res: Salvage = {kind, objects: [], lost: [], intact: false, entries: []}
  let buf: Buffer
  try {
    buf = readFileSync(path)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return res
    throw err
  }
  const scan = scanPack(buf)
  res.trailer = scan.trailer
  for (const b of scan.blocks) if (b.error) res.lost.push({message: `block at offset ${b.offset}: ${b.error}`})
  if (scan.stoppedAt !== undefined) res.lost.push({message: `everything from offset ${scan.stoppedAt} on is unreadable`})

  if (index) {
    const blocks = new Map(scan.blocks.map((b) => [b.offset, b]))
    for (let i = 0; i < index.count; i++) {
      const rec = index.record(i)
      const id = Buffer.from(index.idAt(i))
      const b = blocks.get(rec.blockOffset)
      const data = b?.payload && rec.offset + rec.length <= b.payload.length ? b.payload.subarray(rec.offset, rec.offset + rec.length) : undefined
      if (data && verifies(id, rec.type, data)) res.objects.push({id, type: rec.type, data})
      else res.lost.push({id: id.toString('hex') as Oid, message: 'damaged'})
    }
    return res
  }

  // No index: recompute ids. Chunk lists last, once the chunks of this pack are known.
  const local = new Map<string, Buffer>()
  const lists: {data: Buffer; blockOffset: number; blockLength: number; offset: number; length: number}[] = []
  for (const b of scan.blocks) {
    if (!b.payload || !b.items) continue
    for (const it of b.items) {
      const data = b.payload.subarray(it.offset, it.offset + it.length)
      const e = {blockOffset: b.offset, blockLength: b.length, offset: it.offset, length: it.length}
      if (it.type === ObjectType.chunkList) {
        lists.push({data, ...e})
        continue
      }
      const id = hash(data)
      local.set(id.toString('hex'), data)
      res.objects.push({id, type: it.type, data})
      res.entries.push({id, type: it.type, ...e})
    }
  }
  for (const l of lists) {
    const id = chunkListId(l.data, local, store)
    if (!id) {
      res.lost.push({message: `a chunk list at offset ${l.blockOffset} whose chunks are not all available (its id cannot be computed)`})
      continue
    }
    res.objects.push({id, type: ObjectType.chunkList, data: l.data})
    res.entries.push({id, type: ObjectType.chunkList, blockOffset: l.blockOffset, blockLength: l.blockLength, offset: l.offset, length: l.length})
  }
  res.intact = scan.checksumOk && scan.fileErrors.length === 0 && res.lost.length === 0 && scan.trailer?.toString('hex') === name.slice(2)
  return res
}

function verifies(id: Buffer, type: number, data: Buffer): boolean {
  if (type !== ObjectType.chunkList) return hash(data).equals(id)
  try {
    decodeChunkList(data)
    return true
  } catch {
    return false
  }
}

function chunkListId(data: Buffer, local: Map<string, Buffer>, store: PackStore): Buffer | undefined {
  let chunks
  try {
    chunks = decodeChunkList(data).chunks
  } catch {
    return undefined
  }
  const h = createHasher()
  for (const c of chunks) {
    let bytes = local.get(c.id)
    if (!bytes) {
      try {
        bytes = store.read(c.id, ObjectType.blob).data
      } catch {
        return undefined
      }
    }
    h.update(bytes)
  }
  return h.digest()
}
