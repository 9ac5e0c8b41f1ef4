import {describe, expect, it} from 'vitest'
import {expectRejected, fixture, fixtureJson, flips, truncations} from '../../test/helpers/codec.js'
import {varintLength, writeVarint} from '../util/varint.js'
import {decodeChunkList, encodeChunkList, type Chunk} from './chunkList.js'
import {hash} from './hash.js'
import type {Oid} from './oid.js'

const id = (s: string): Oid => hash(Buffer.from(s)).toString('hex') as Oid

/** A chunk list body (magic, total, count, chunks, extra) sealed with a valid checksum. */
function sealed(total: number, chunks: Chunk[], extra = Buffer.alloc(0), count = chunks.length): Buffer {
  const v = (n: number): Buffer => {
    const b = Buffer.alloc(varintLength(n))
    writeVarint(b, 0, n)
    return b
  }
  const body = Buffer.concat([Buffer.from('VCL1'), v(total), v(count), ...chunks.flatMap((c) => [v(c.size), Buffer.from(c.id, 'hex')]), extra])
  return Buffer.concat([body, hash(body)])
}

describe('chunk list codec', () => {
  const golden = fixture('chunklist/three.bin')
  const expected = fixtureJson<{size: number; chunks: Chunk[]}>('chunklist/three.json')

  it('decodes and re-encodes the golden bytes', () => {
    expect(decodeChunkList(golden)).toEqual(expected)
    expect(encodeChunkList(expected.chunks).equals(golden)).toBe(true)
  })

  it('round-trips many chunks and the empty list', () => {
    const chunks = Array.from({length: 500}, (_, i) => ({id: id(`c${i}`), size: (i * 7919) % (2 << 20)}))
    const total = chunks.reduce((a, c) => a + c.size, 0)
    expect(decodeChunkList(encodeChunkList(chunks))).toEqual({size: total, chunks})
    expect(decodeChunkList(encodeChunkList([]))).toEqual({size: 0, chunks: []})
    expect(sealed(total, chunks).equals(encodeChunkList(chunks))).toBe(true)
  })

  describe('rejects damaged bytes', () => {
    it('every truncation and every single-byte flip (the checksum covers everything)', () => {
      for (const t of truncations(golden)) expectRejected(() => decodeChunkList(t))
      for (const f of flips(golden)) expectRejected(() => decodeChunkList(f.bytes))
    })

    it('trailing bytes, before or after the checksum', () => {
      expectRejected(() => decodeChunkList(Buffer.concat([golden, Buffer.from([0])])))
      expectRejected(() => decodeChunkList(sealed(expected.size, expected.chunks, Buffer.from([0]))))
    })

    it('sizes that do not add up, a count beyond the data, a bad magic', () => {
      expectRejected(() => decodeChunkList(sealed(expected.size + 1, expected.chunks)))
      expectRejected(() => decodeChunkList(sealed(expected.size, expected.chunks, Buffer.alloc(0), 4)))
      expectRejected(() => decodeChunkList(sealed(0, [], Buffer.alloc(0), 2 ** 40)))
      const b = Buffer.from(golden)
      b.write('VCL2', 0)
      expectRejected(() => decodeChunkList(b))
    })

    it('names the object it was reading', () => {
      const e = expectRejected(() => decodeChunkList(golden.subarray(0, 50), `chunk list ${id('x')}`))
      expect(e.message).toContain(id('x'))
    })
  })
})
