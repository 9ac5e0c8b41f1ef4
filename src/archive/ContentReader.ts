/**
 * File contents for export, read the way a bulk reader should: each block is read and decompressed
 * once into reused memory (BlockReader) and every object of it is served from there, verified
 * (BLAKE3) on the way. Exports visit files in tree order, which is about the order the snapshot
 * packed them in, interleaved between the packs its workers wrote: a few recently used blocks are
 * kept, so that each block is decompressed about once.
 */
import type {Oid} from '../objects/oid.js'
import {hash} from '../objects/hash.js'
import {ObjectType} from '../pack/block.js'
import type {PackStore} from '../store/PackStore.js'
import {BlockReader} from '../store/BlockReader.js'
import {VeloError} from '../util/errors.js'

/** Blocks kept decompressed (each in its own reused buffers: about 512 KiB raw + its payload). */
const SLOTS = 8

interface Slot {
  key: string
  reader: BlockReader
  used: number
}

export class ContentReader {
  private readonly slots: Slot[] = []
  private tick = 0

  constructor(private readonly packs: PackStore) {}

  /**
   * The bytes of blob `id`, verified unless `verify` is false (the caller verifies a whole file
   * made of chunks). Valid until the next call.
   */
  blob(id: Oid, verify = true): Buffer {
    const loc = this.packs.find(id)
    if (!loc || loc.record.type !== ObjectType.blob) return this.packs.read(id, ObjectType.blob).data // the store's own error
    const {pack, record} = loc
    const key = `${pack.path}:${record.blockOffset}`
    let slot = this.slots.find((s) => s.key === key)
    let payload: Buffer
    try {
      if (!slot) {
        if (this.slots.length < SLOTS) {
          slot = {key: '', reader: new BlockReader(), used: 0}
          this.slots.push(slot)
        } else {
          slot = this.slots.reduce((a, b) => (b.used < a.used ? b : a))
        }
        slot.key = ''
        payload = slot.reader.read(pack.path, record.blockOffset, record.blockLength)
        slot.key = key
      } else {
        payload = slot.reader.read(pack.path, record.blockOffset, record.blockLength)
      }
    } catch (err) {
      // A pack replaced by gc or repack meanwhile, or damage: the store finds the object again or
      // names the damage the way every other reader does.
      if (err instanceof VeloError && err.code === 'ERR_VELO_CORRUPT') return this.packs.read(id, ObjectType.blob).data
      throw err
    }
    slot.used = ++this.tick
    if (record.offset + record.length > payload.length) {
      throw new VeloError('ERR_VELO_CORRUPT', `object ${id} lies outside its block in pack ${pack.name}`, {hint: 'run velo fsck', data: {oid: id, pack: pack.name}})
    }
    const data = payload.subarray(record.offset, record.offset + record.length)
    if (verify && hash(data).toString('hex') !== id) {
      throw new VeloError('ERR_VELO_CORRUPT', `object ${id} in pack ${pack.name} failed verification (BLAKE3 mismatch)`, {
        hint: 'run velo fsck; velo fsck --repair --from REMOTE restores it from a remote that has it',
        data: {oid: id, pack: pack.name},
      })
    }
    return data
  }

  close(): void {
    for (const s of this.slots) s.reader.close()
    this.slots.length = 0
  }
}
