/** The only import of the BLAKE3 implementation (adapter). */
import {Blake3Hasher, blake3} from '@napi-rs/blake-hash'

export const HASH_BYTES = 32

/** BLAKE3-256 of `data`. */
export function hash(data: Uint8Array): Buffer {
  return blake3(data)
}

export interface StreamHasher {
  update(data: Uint8Array): void
  digest(): Buffer
}

export function createHasher(): StreamHasher {
  const h = new Blake3Hasher()
  return {
    update(data) {
      h.update(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength))
    },
    digest() {
      return h.digestBuffer()
    },
  }
}
