import {describe, expect, it} from 'vitest'
import {ByteReader, varintLength, writeVarint} from './varint.js'

const enc = (n: number): Buffer => {
  const b = Buffer.alloc(varintLength(n))
  expect(writeVarint(b, 0, n)).toBe(b.length)
  return b
}

describe('varint', () => {
  it('encodes the LEB128 golden values', () => {
    expect(enc(0)).toEqual(Buffer.from([0x00]))
    expect(enc(1)).toEqual(Buffer.from([0x01]))
    expect(enc(127)).toEqual(Buffer.from([0x7f]))
    expect(enc(128)).toEqual(Buffer.from([0x80, 0x01]))
    expect(enc(300)).toEqual(Buffer.from([0xac, 0x02]))
    expect(enc(16384)).toEqual(Buffer.from([0x80, 0x80, 0x01]))
    expect(enc(2 ** 32)).toEqual(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x10]))
    expect(enc(Number.MAX_SAFE_INTEGER)).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]))
  })

  it('round-trips across every length boundary', () => {
    const values = [0, 1, 2 ** 53 - 1]
    for (let bits = 7; bits <= 52; bits += 7) values.push(2 ** bits - 1, 2 ** bits, 2 ** bits + 1)
    const buf = Buffer.concat(values.map(enc))
    const r = new ByteReader(buf, 'test')
    for (const v of values) expect(r.varint()).toBe(v)
    expect(r.remaining).toBe(0)
  })

  it('rejects truncated, overlong and oversized varints with RangeError', () => {
    expect(() => new ByteReader(Buffer.from([0x80]), 't').varint()).toThrow(/truncated/)
    expect(() => new ByteReader(Buffer.alloc(0), 't').varint()).toThrow(/truncated/)
    expect(() => new ByteReader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 't').varint()).toThrow(/too long/)
    // 2^53 does not fit a double exactly
    expect(() => new ByteReader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]), 't').varint()).toThrow(/too large/)
    expect(() => new ByteReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), 't').varint()).toThrow(RangeError)
  })

  it('reads bytes within bounds only and names what it was reading', () => {
    const r = new ByteReader(Buffer.from([1, 2, 3]), 'tree 1234')
    expect([...r.bytes(2)]).toEqual([1, 2])
    expect(() => r.bytes(2)).toThrow(/tree 1234: truncated at byte 2/)
    expect(r.u8()).toBe(3)
    expect(() => r.u8()).toThrow(RangeError)
  })
})
