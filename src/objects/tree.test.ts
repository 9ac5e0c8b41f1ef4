import {describe, expect, it} from 'vitest'
import {expectRejected, fixture, fixtureJson, flips, rawTree, truncations} from '../../test/helpers/codec.js'
import {VeloError} from '../util/errors.js'
import {hash} from './hash.js'
import {compareNames} from './names.js'
import type {Oid} from './oid.js'
import {decodeTree, encodeTree, type TreeEntry} from './tree.js'

const id = (s: string): Oid => hash(Buffer.from(s)).toString('hex') as Oid

describe('tree codec', () => {
  const golden = fixture('tree/small.bin')
  const expected = fixtureJson<{id: string; entries: TreeEntry[]}>('tree/small.json')

  it('decodes the golden bytes', () => {
    expect(decodeTree(golden)).toEqual(expected.entries)
    expect(hash(golden).toString('hex')).toBe(expected.id)
  })

  it('encodes to exactly the golden bytes', () => {
    expect(encodeTree(expected.entries).equals(golden)).toBe(true)
  })

  it('round-trips trees with every kind, unicode names and large sizes', () => {
    const names = ['a', 'B', 'a b', 'z', 'é', 'ü ber', '日本語', '😀 emoji', '\uffff', 'x'.repeat(255), '-', '.hidden', '...', 'a\\b', '\t']
    const kinds = ['file', 'exec', 'symlink', 'dir'] as const
    const entries: TreeEntry[] = names
      .slice()
      .sort(compareNames)
      .map((name, i) => {
        const kind = kinds[i % 4]
        if (kind === 'symlink') {
          const target = i % 2 ? `/abs/${name}` : `../rel/${name}`
          return {name, kind, size: Buffer.byteLength(target), id: hash(Buffer.from(target)).toString('hex') as Oid, target}
        }
        return {name, kind, size: [0, 1, 127, 128, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER][i % 6], id: id(name)}
      })
    const bytes = encodeTree(entries)
    expect(decodeTree(bytes)).toEqual(entries)
    expect(decodeTree(encodeTree([]))).toEqual([])
  })

  it('orders names by UTF-8 bytes, as the encoder requires', () => {
    const names = ['b', 'a', 'ab', 'Z', 'é', '\ud83d\ude00', '\uffff', '\ue000', 'ä', 'a b']
    const byBytes = names.slice().sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    expect(names.slice().sort(compareNames)).toEqual(byBytes)
  })

  it('refuses to encode unsorted, duplicate or unsafe entries (a bug, not user input)', () => {
    const e = (name: string): TreeEntry => ({name, kind: 'file', size: 0, id: id(name)})
    expect(() => encodeTree([e('b'), e('a')])).toThrow(/not sorted/)
    expect(() => encodeTree([e('a'), e('a')])).toThrow(/not sorted or duplicated/)
    for (const bad of ['', '.', '..', 'a/b', 'a\0b']) expect(() => encodeTree([e(bad)])).toThrow(/unsafe/)
  })

  describe('rejects damaged or hostile bytes', () => {
    it('every truncation', () => {
      for (const t of truncations(golden)) expectRejected(() => decodeTree(t))
    })

    it('trailing bytes', () => {
      expectRejected(() => decodeTree(Buffer.concat([golden, Buffer.from([0])])))
      expectRejected(() => decodeTree(Buffer.concat([golden, rawTree([{code: 1, name: 'zzz'}], 0).subarray(5)])))
      // a valid tree followed by a second valid entry that the count does not announce
      expectRejected(() => decodeTree(rawTree([{code: 1, name: 'a'}, {code: 1, name: 'b'}], 1)))
    })

    it('a bad magic, an unknown kind, a count larger than the object', () => {
      expectRejected(() => decodeTree(Buffer.concat([Buffer.from('VTR2'), golden.subarray(4)])))
      for (const code of [0, 5, 255]) expectRejected(() => decodeTree(rawTree([{code, name: 'a'}])))
      expectRejected(() => decodeTree(rawTree([{code: 1, name: 'a'}], 2)))
      expectRejected(() => decodeTree(rawTree([], 2 ** 40)))
    })

    it('unsorted and duplicate entries', () => {
      expectRejected(() => decodeTree(rawTree([{code: 1, name: 'b'}, {code: 1, name: 'a'}])))
      expectRejected(() => decodeTree(rawTree([{code: 1, name: 'a'}, {code: 4, name: 'a'}])))
      expectRejected(() => decodeTree(rawTree([{code: 1, name: 'é'}, {code: 1, name: 'z'}])))
    })

    it('unsafe names: empty, ".", "..", containing "/" or NUL', () => {
      for (const name of ['', '.', '..', '/', 'a/b', '../x', 'a/', '\0', 'a\0b']) {
        for (const code of [1, 2, 3, 4]) {
          const e = expectRejected(() => decodeTree(rawTree([{code, name, target: 'x'}])), 'ERR_VELO_UNSAFE_PATH')
          expect(e.message).toContain(JSON.stringify(name))
        }
      }
    })

    it('names and link targets that are not UTF-8, NUL in a link target', () => {
      expectRejected(() => decodeTree(rawTree([{code: 1, name: Buffer.from([0x61, 0xff])}])))
      expectRejected(() => decodeTree(rawTree([{code: 1, name: Buffer.from([0xc3])}])))
      expectRejected(() => decodeTree(rawTree([{code: 3, name: 'l', target: Buffer.from([0xed, 0xa0, 0x80])}])))
      expectRejected(() => decodeTree(rawTree([{code: 3, name: 'l', target: 'a\0b'}])))
    })

    it('sizes beyond 2^53', () => {
      const big = Buffer.concat([Buffer.from('VTR1\x01\x01\x01a'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(32)])
      expectRejected(() => decodeTree(big))
    })

    it('every single-byte flip is rejected or decodes to a different tree, never the same one', () => {
      const original = decodeTree(golden)
      for (const f of flips(golden)) {
        let decoded: TreeEntry[]
        try {
          decoded = decodeTree(f.bytes)
        } catch (err) {
          expect(err, `flip at ${f.pos}`).toBeInstanceOf(VeloError)
          expect(['ERR_VELO_CORRUPT', 'ERR_VELO_UNSAFE_PATH']).toContain((err as VeloError).code)
          continue
        }
        // It parsed: the bytes (hence the id) differ, so reads catch it by id; it must not look unchanged.
        expect(decoded, `flip at ${f.pos} mask ${f.mask}`).not.toEqual(original)
      }
    })
  })
})
