import {describe, expect, it} from 'vitest'
import {fixture, fixtureJson, flips, truncations} from '../../test/helpers/codec.js'
import {randomBytes} from '../../test/helpers/trees.js'
import {hash} from '../objects/hash.js'
import {PackIndex, encodePackIndex, type IndexEntry} from './packIndex.js'

interface JsonEntry {
  id: string
  type: number
  blockOffset: number
  blockLength: number
  offset: number
  length: number
}

const HEAD = 8 + 4 + 256 * 4

function entry(id: Buffer, i: number): IndexEntry {
  return {id, type: 1 + (i % 5), blockOffset: 8 + i * 1000 + (i % 3) * 2 ** 33, blockLength: 1000 + i, offset: i % 999, length: i}
}

/** Re-seals an index whose body was edited, as a hostile writer would. */
function reseal(buf: Buffer): Buffer {
  const b = Buffer.from(buf)
  hash(b.subarray(0, b.length - 32)).copy(b, b.length - 32)
  return b
}

describe('pack index', () => {
  const golden = fixture('packindex/small.idx')
  const expected = fixtureJson<{kind: 'meta'; packChecksum: string; entries: JsonEntry[]}>('packindex/small.json')

  it('decodes the golden bytes', () => {
    const idx = new PackIndex(golden)
    expect(idx.kind).toBe(expected.kind)
    expect(idx.count).toBe(expected.entries.length)
    expect(idx.packChecksum.toString('hex')).toBe(expected.packChecksum)
    expected.entries.forEach((e, i) => {
      expect(idx.oidAt(i)).toBe(e.id)
      expect(idx.find(Buffer.from(e.id, 'hex'))).toBe(i)
      const {id, ...rec} = e
      expect(idx.record(i), id).toEqual(rec)
      expect(idx.typeAt(i)).toBe(e.type)
    })
  })

  it('encodes to exactly the golden bytes, whatever the input order', () => {
    const entries = expected.entries.map((e) => ({...e, id: Buffer.from(e.id, 'hex')}))
    const sum = Buffer.from(expected.packChecksum, 'hex')
    expect(encodePackIndex('meta', entries, sum).equals(golden)).toBe(true)
    expect(encodePackIndex('meta', entries.slice().reverse(), sum).equals(golden)).toBe(true)
  })

  it('drops an object listed twice', () => {
    const a = entry(hash(Buffer.from('a')), 1)
    const idx = new PackIndex(encodePackIndex('data', [a, {...a, blockOffset: 999}, entry(hash(Buffer.from('b')), 2)], Buffer.alloc(32)))
    expect(idx.count).toBe(2)
    expect(idx.record(idx.find(a.id)).blockOffset).toBe(a.blockOffset)
  })

  describe('lookups over many ids', () => {
    const rnd = randomBytes(20000 * 32, 'index-ids')
    const ids: Buffer[] = []
    for (let i = 0; i < 20000; i++) ids.push(rnd.subarray(i * 32, i * 32 + 32))
    // edge buckets and ids that share long prefixes
    ids.push(Buffer.alloc(32, 0), Buffer.alloc(32, 0xff), Buffer.concat([Buffer.alloc(31, 0), Buffer.from([1])]))
    for (let k = 0; k < 20; k++) ids.push(Buffer.concat([Buffer.from('abcdef12', 'hex'), randomBytes(28, `shared-${k}`)]))
    const idx = new PackIndex(encodePackIndex('data', ids.map(entry), Buffer.alloc(32, 1)))
    const hexes = ids.map((b) => b.toString('hex')).sort()

    it('finds every id and its record', () => {
      expect(idx.count).toBe(ids.length)
      const wrong: string[] = []
      ids.forEach((id, i) => {
        const at = idx.find(id)
        const {id: _id, ...want} = entry(id, i)
        const got = at >= 0 ? idx.record(at) : undefined
        const same = got !== undefined && (Object.keys(want) as (keyof typeof want)[]).every((k) => got[k] === want[k])
        if (!same || !idx.idAt(at).equals(id)) wrong.push(id.toString('hex'))
      })
      expect(wrong).toEqual([])
      const listed = Array.from({length: idx.count}, (_, i) => idx.oidAt(i))
      expect(listed).toEqual(hexes)
    })

    it('misses ids that are absent, including immediate neighbours of present ones', () => {
      const absent = randomBytes(2000 * 32, 'absent')
      for (let i = 0; i < 2000; i++) expect(idx.find(absent.subarray(i * 32, i * 32 + 32))).toBe(-1)
      for (const id of ids.slice(0, 500)) {
        const up = Buffer.from(id)
        up[31] ^= 0x01
        if (!hexes.includes(up.toString('hex'))) expect(idx.find(up)).toBe(-1)
      }
    })

    it('finds prefixes of odd and even length like a linear scan', () => {
      const probes = [...hexes.filter((_, i) => i % 997 === 0), 'abcdef12' + '0'.repeat(56), '0'.repeat(64), 'f'.repeat(64)]
      for (const h of probes) {
        for (const len of [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 63, 64]) {
          const p = h.slice(0, len)
          const want = hexes.filter((x) => x.startsWith(p))
          const got = idx.findPrefix(p, 1e9).map((i) => idx.oidAt(i))
          expect(got, `prefix ${p}`).toEqual(want)
          expect(idx.findPrefix(p, 3).length).toBe(Math.min(3, want.length))
        }
      }
      expect(idx.findPrefix('abcdef12', 100).length).toBe(20)
      expect(idx.findPrefix('abcdef13', 100)).toEqual([])
    })
  })

  describe('rejects damaged or hostile indexes (RangeError; PackStore reports the pack as damaged)', () => {
    it('every truncation, trailing bytes, every single-byte flip', () => {
      for (const t of truncations(golden)) expect(() => new PackIndex(Buffer.from(t))).toThrow(RangeError)
      expect(() => new PackIndex(Buffer.concat([golden, Buffer.alloc(1)]))).toThrow(RangeError)
      for (const f of flips(golden, [0x01, 0x80])) expect(() => new PackIndex(f.bytes), `flip at ${f.pos}`).toThrow(RangeError)
    })

    it('unsorted or duplicate ids, even with a valid checksum', () => {
      const n = expected.entries.length
      const swapped = Buffer.from(golden)
      // entries 1 and 2 share their first byte (0x7f): swap their ids, fanout stays right
      const a = Buffer.from(swapped.subarray(HEAD + 32, HEAD + 64))
      swapped.copy(swapped, HEAD + 32, HEAD + 64, HEAD + 96)
      a.copy(swapped, HEAD + 64)
      expect(() => new PackIndex(reseal(swapped))).toThrow(/sorted/)
      const dup = Buffer.from(golden)
      dup.copy(dup, HEAD + 64, HEAD + 32, HEAD + 64)
      expect(() => new PackIndex(reseal(dup))).toThrow(/sorted/)
      expect(n).toBe(5)
    })

    it('a fanout table that disagrees with the ids, even with a valid checksum', () => {
      const b = Buffer.from(golden)
      b.writeUInt32LE(b.readUInt32LE(12 + 0x7f * 4) - 1, 12 + 0x7f * 4) // bucket 0x7f loses an id
      expect(() => new PackIndex(reseal(b))).toThrow(/fanout/)
      const c = Buffer.from(golden)
      c.writeUInt32LE(0, 12 + 0x10 * 4) // not monotonic
      expect(() => new PackIndex(reseal(c))).toThrow(/fanout/)
    })

    it('a bad magic or header, a count that does not match the length', () => {
      const m = Buffer.from(golden)
      m.write('VIX2', 0)
      expect(() => new PackIndex(reseal(m))).toThrow(RangeError)
      const k = Buffer.from(golden)
      k[4] = 2
      expect(() => new PackIndex(reseal(k))).toThrow(RangeError)
      const c = Buffer.from(golden)
      c.writeUInt32LE(6, 8)
      expect(() => new PackIndex(reseal(c))).toThrow(RangeError)
    })
  })
})
