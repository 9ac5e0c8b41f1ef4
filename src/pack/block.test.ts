import {describe, expect, it} from 'vitest'
import {fixture, fixtureJson, flips, truncations} from '../../test/helpers/codec.js'
import {randomBytes} from '../../test/helpers/trees.js'
import {hash} from '../objects/hash.js'
import {BLOCK_HEADER, BlockBuilder, CODEC_RAW, CODEC_ZSTD, decodeBlock, decodeBlockHeader, encodeBlock, listPayload} from './block.js'

interface BlockJson {
  level: number
  rawLength: number
  objects: {type: number; text: string; id: string; offset: number; length: number}[]
}

function build(objects: BlockJson['objects'], level: number): ReturnType<BlockBuilder['seal']> {
  const bb = new BlockBuilder(16)
  for (const o of objects) bb.add(Buffer.from(o.id, 'hex'), o.type, Buffer.from(o.text))
  return bb.seal(level)
}

describe('blocks', () => {
  for (const name of ['raw', 'zstd']) {
    const golden = fixture(`block/${name}.bin`)
    const expected = fixtureJson<BlockJson>(`block/${name}.json`)

    it(`decodes the golden ${name} block to its objects`, () => {
      expect(decodeBlockHeader(golden).codec).toBe(name === 'raw' ? CODEC_RAW : CODEC_ZSTD)
      const payload = decodeBlock(golden)
      expect(payload.length).toBe(expected.rawLength)
      const items = listPayload(payload)
      expect(items).toEqual(expected.objects.map((o) => ({type: o.type, offset: o.offset, length: o.length})))
      for (const o of expected.objects) {
        const bytes = payload.subarray(o.offset, o.offset + o.length)
        expect(bytes.toString()).toBe(o.text)
        expect(hash(bytes).toString('hex')).toBe(o.id)
      }
    })
  }

  it('builds exactly the golden raw block', () => {
    const expected = fixtureJson<BlockJson>('block/raw.json')
    const sealed = build(expected.objects, 0)
    expect(sealed.bytes.equals(fixture('block/raw.bin'))).toBe(true)
    expect(sealed.entries.map((e) => [Buffer.from(e.id).toString('hex'), e.type, e.offset, e.length])).toEqual(
      expected.objects.map((o) => [o.id, o.type, o.offset, o.length]),
    )
  })

  it('builds a zstd block that decodes to the same payload as the raw one', () => {
    const expected = fixtureJson<BlockJson>('block/zstd.json')
    const z = build(expected.objects, 3)
    expect(z.bytes[0]).toBe(CODEC_ZSTD)
    expect(decodeBlock(z.bytes).equals(decodeBlock(fixture('block/raw.bin')))).toBe(true)
  })

  it('stores incompressible data raw and round-trips payloads of every size', () => {
    for (const n of [0, 1, 100, 128 << 10, 3 << 20]) {
      const rnd = randomBytes(n, `block-${n}`)
      const b = encodeBlock(rnd, 3)
      expect(b[0], `${n} random bytes`).toBe(CODEC_RAW)
      expect(b.length).toBe(BLOCK_HEADER + n)
      expect(decodeBlock(b).equals(rnd)).toBe(true)
      const text = Buffer.alloc(n, 'compressible ')
      const t = encodeBlock(text, 3)
      if (n >= 100) expect(t[0]).toBe(CODEC_ZSTD)
      expect(decodeBlock(t).equals(text)).toBe(true)
    }
  })

  it('a builder is reusable after seal', () => {
    const bb = new BlockBuilder(4)
    bb.add(hash(Buffer.from('a')), 1, Buffer.from('a'))
    const first = bb.seal(0)
    expect(bb.count).toBe(0)
    bb.add(hash(Buffer.from('b')), 1, Buffer.from('bb'))
    const second = bb.seal(0)
    expect(listPayload(decodeBlock(first.bytes))).toEqual([{type: 1, offset: 3, length: 1}])
    expect(listPayload(decodeBlock(second.bytes))).toEqual([{type: 1, offset: 3, length: 2}])
  })

  describe('rejects damaged blocks with RangeError (PackStore names the object and pack)', () => {
    const raw = fixture('block/raw.bin')
    const zstd = fixture('block/zstd.bin')

    it('every truncation and trailing bytes', () => {
      for (const b of [raw, zstd]) {
        for (const t of truncations(b)) expect(() => decodeBlock(t)).toThrow(RangeError)
        expect(() => decodeBlock(Buffer.concat([b, Buffer.alloc(1)]))).toThrow(RangeError)
      }
    })

    it('every flipped header byte', () => {
      for (const b of [raw, zstd]) {
        for (const f of flips(b.subarray(0, BLOCK_HEADER))) {
          const bytes = Buffer.concat([f.bytes, b.subarray(BLOCK_HEADER)])
          expect(() => decodeBlock(bytes), `flip at ${f.pos}`).toThrow(RangeError)
        }
      }
    })

    it('every flipped byte of compressed data: RangeError or a payload of the right length', () => {
      const want = decodeBlock(zstd)
      for (const f of flips(zstd)) {
        if (f.pos < BLOCK_HEADER) continue
        let out: Buffer
        try {
          out = decodeBlock(f.bytes)
        } catch (err) {
          expect(err, `flip at ${f.pos} mask ${f.mask}`).toBeInstanceOf(RangeError)
          continue
        }
        // zstd without a frame checksum may decode damage to other bytes; object ids catch that.
        expect(out.length).toBe(want.length)
      }
    })

    it('a payload table that does not match the payload', () => {
      expect(() => listPayload(Buffer.from([2, 1, 5, 1, 5, 0, 0, 0]))).toThrow(RangeError)
      expect(() => listPayload(Buffer.from([1, 1, 1, 0, 0]))).toThrow(RangeError)
    })
  })
})
