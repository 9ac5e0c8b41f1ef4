/** Helpers for codec unit tests: golden fixtures and expectations about rejected input. */
import {readFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {expect} from 'vitest'
import {hash} from '../../src/objects/hash.js'
import {VeloError} from '../../src/util/errors.js'
import {varintLength, writeVarint} from '../../src/util/varint.js'

export const FIXTURES = resolve(import.meta.dirname, '../fixtures')

export function fixture(rel: string): Buffer {
  return readFileSync(join(FIXTURES, rel))
}

export function fixtureJson<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, rel), 'utf8')) as T
}

export type Rejection = 'ERR_VELO_CORRUPT' | 'ERR_VELO_UNSAFE_PATH'

/** Runs `fn` and returns the VeloError it throws; fails when it returns or throws anything else. */
export function veloErrorOf(fn: () => unknown): VeloError {
  let result: unknown
  try {
    result = fn()
  } catch (err) {
    if (err instanceof VeloError) return err
    throw new Error(`expected a VeloError, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`)
  }
  throw new Error(`expected a VeloError, but it returned ${JSON.stringify(result)?.slice(0, 200)}`)
}

export function expectRejected(fn: () => unknown, code: Rejection = 'ERR_VELO_CORRUPT'): VeloError {
  const e = veloErrorOf(fn)
  expect(e.code, e.message).toBe(code)
  return e
}

/** Every proper prefix of `buf`. */
export function* truncations(buf: Buffer): Generator<Buffer> {
  for (let n = 0; n < buf.length; n++) yield buf.subarray(0, n)
}

/** `buf` with one byte flipped, at every position, for each mask. */
export function* flips(buf: Buffer, masks = [0x01, 0x20, 0x80]): Generator<{pos: number; mask: number; bytes: Buffer}> {
  for (let pos = 0; pos < buf.length; pos++) {
    for (const mask of masks) {
      const b = Buffer.from(buf)
      b[pos] ^= mask
      yield {pos, mask, bytes: b}
    }
  }
}

export interface RawEntry {
  code: number
  name: string | Buffer
  size?: number
  id?: Buffer
  target?: string | Buffer
}

/** Encodes entries byte by byte without any validation (to build hostile trees). */
export function rawTree(entries: RawEntry[], count = entries.length): Buffer {
  const parts: Buffer[] = [Buffer.from('VTR1'), varint(count)]
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name)
    parts.push(Buffer.from([e.code]), varint(name.length), name)
    if (e.code === 3) {
      const t = Buffer.isBuffer(e.target) ? e.target : Buffer.from(e.target ?? '')
      parts.push(varint(t.length), t)
    } else {
      parts.push(varint(e.size ?? 0), e.id ?? hash(name))
    }
  }
  return Buffer.concat(parts)
}

function varint(n: number): Buffer {
  const b = Buffer.alloc(varintLength(n))
  writeVarint(b, 0, n)
  return b
}
