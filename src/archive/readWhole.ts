import {CHUNK_THRESHOLD} from '../chunk/fastcdc.js'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import type {PackStore} from '../store/PackStore.js'

const EMPTY = Buffer.alloc(0)

/**
 * A file's whole content, verified (PackStore re-hashes what it returns). Files up to
 * CHUNK_THRESHOLD are always one blob (docs/format.md), found with one lookup.
 */
export function readWhole(packs: PackStore, id: Oid, size: number): Buffer {
  if (size === 0) return EMPTY
  return size <= CHUNK_THRESHOLD ? packs.read(id, ObjectType.blob).data : packs.readContent(id)
}
