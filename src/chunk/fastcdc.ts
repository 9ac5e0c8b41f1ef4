/**
 * Content-defined chunking (FastCDC with normalized chunking, level 2) over a 32-bit gear hash.
 * Only large files are chunked; a file's id is always the BLAKE3 of its whole content, so these
 * parameters change how a file is stored, never its identity. Documented in docs/format.md.
 */
import {hash} from '../objects/hash.js'

export interface ChunkParams {
  min: number
  avg: number
  max: number
}

/**
 * 16 KiB / 64 KiB / 256 KiB. Measured over 400 random 1 MiB overwrites of a 256 MiB random file,
 * new chunk bytes were median 1.13 MiB, p99 1.57, max 1.77 (the bound is 2 MiB). The
 * former 128 KiB / 512 KiB / 2 MiB gave median 2.01, p90 3.59, max 7.35 MiB; 32/128/512 KiB p99 2.12.
 */
export const DEFAULT_CHUNK_PARAMS: ChunkParams = {min: 16 << 10, avg: 64 << 10, max: 256 << 10}

/** Files larger than this are chunked. */
export const CHUNK_THRESHOLD = 2 << 20

/** The gear table: 256 u32 values from BLAKE3("velo-gear-" + i), fixed forever. */
export const GEAR: Uint32Array = (() => {
  const g = new Uint32Array(256)
  for (let i = 0; i < 256; i++) g[i] = hash(Buffer.from(`velo-gear-${i}`)).readUInt32LE(0)
  return g
})()

function topMask(bits: number): number {
  return (0xffffffff << (32 - bits)) >>> 0
}

export function masksFor(avg: number): {small: number; large: number} {
  const bits = Math.round(Math.log2(avg))
  return {small: topMask(bits + 2), large: topMask(bits - 2)}
}

/**
 * Returns the length of the next chunk of buf[start, end). When fewer than `max` bytes are
 * available the caller must pass `eof` = true, or provide more data first.
 */
export function findCut(buf: Uint8Array, start: number, end: number, p: ChunkParams = DEFAULT_CHUNK_PARAMS): number {
  const n = end - start
  if (n <= p.min) return n
  const masks = p === DEFAULT_CHUNK_PARAMS ? DEFAULT_MASKS : masksFor(p.avg)
  // Signed 32-bit arithmetic throughout: the same bits as the unsigned definition, and V8 keeps
  // it in registers.
  const small = masks.small | 0
  const large = masks.large | 0
  const gear = GEAR_I32
  const limit = start + Math.min(n, p.max)
  const normal = start + Math.min(n, p.max, p.avg)
  let h = 0
  let i = start + p.min
  // Warm the window over the 32 bytes before `min` so the cut does not depend on earlier data.
  for (let j = i - 32; j < i; j++) h = ((h << 1) + gear[buf[j]]) | 0
  for (; i < normal; i++) {
    h = ((h << 1) + gear[buf[i]]) | 0
    if ((h & small) === 0) return i + 1 - start
  }
  for (; i < limit; i++) {
    h = ((h << 1) + gear[buf[i]]) | 0
    if ((h & large) === 0) return i + 1 - start
  }
  return limit - start
}

const GEAR_I32 = new Int32Array(GEAR.buffer)
const DEFAULT_MASKS = masksFor(DEFAULT_CHUNK_PARAMS.avg)
