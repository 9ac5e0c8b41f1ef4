import {describe, expect, it} from 'vitest'
import {expectRejected, fixture, fixtureJson, flips, truncations} from '../../test/helpers/codec.js'
import {VeloError} from '../util/errors.js'
import {hash} from './hash.js'
import type {Oid} from './oid.js'
import {decodeSnapshot, encodeSnapshot, type Snapshot} from './snapshot.js'

const id = (s: string): Oid => hash(Buffer.from(s)).toString('hex') as Oid
const withJson = (json: string): Buffer => Buffer.concat([Buffer.from('VSN1'), Buffer.from(json)])

describe('snapshot codec', () => {
  for (const name of ['full', 'root']) {
    const golden = fixture(`snapshot/${name}.bin`)
    const expected = fixtureJson<{id: string; snapshot: Snapshot}>(`snapshot/${name}.json`)

    it(`decodes and re-encodes the golden bytes (${name})`, () => {
      const s = decodeSnapshot(golden)
      expect(s).toEqual({...expected.snapshot, meta: expect.any(Object)})
      expect(Object.entries(s.meta).sort()).toEqual(Object.entries(expected.snapshot.meta).sort())
      expect(encodeSnapshot(expected.snapshot).equals(golden)).toBe(true)
      expect(hash(golden).toString('hex')).toBe(expected.id)
    })
  }

  it('is canonical: meta key order does not change the bytes', () => {
    const base: Snapshot = {tree: id('t'), parents: [], time: 1, user: 'u', host: 'h', message: 'm', meta: {b: '2', a: '1', c: '3'}}
    const other = {...base, meta: {c: '3', a: '1', b: '2'}}
    expect(encodeSnapshot(base).equals(encodeSnapshot(other))).toBe(true)
  })

  it('round-trips a signed snapshot and unusual strings', () => {
    const s: Snapshot = {
      tree: id('t'),
      parents: [id('p1')],
      time: Date.UTC(2030, 0, 1),
      user: 'ü ser',
      host: 'host\twith\ttabs',
      message: 'line 1\nline 2 \u2028 "\\" 😀',
      meta: {'a b': 'c=d', '': 'empty key'},
      signature: {key: Buffer.alloc(32, 7).toString('base64'), sig: Buffer.alloc(64, 9).toString('base64')},
    }
    const b = encodeSnapshot(s)
    expect(decodeSnapshot(b)).toEqual(s)
    expect(encodeSnapshot(decodeSnapshot(b)).equals(b)).toBe(true)
  })

  describe('rejects damaged bytes', () => {
    const golden = fixture('snapshot/full.bin')

    it('every truncation', () => {
      for (const t of truncations(golden)) expectRejected(() => decodeSnapshot(t))
    })

    it('trailing bytes, including whitespace', () => {
      for (const tail of [' ', '\n', 'x', '{}', '\u0000']) {
        expectRejected(() => decodeSnapshot(Buffer.concat([golden, Buffer.from(tail)])))
      }
    })

    it('a bad magic, invalid UTF-8, fields of the wrong type', () => {
      const ok = {tree: id('t'), parents: [], time: 1, user: 'u', host: 'h', message: '', meta: {}}
      expectRejected(() => decodeSnapshot(Buffer.concat([Buffer.from('VSN2'), golden.subarray(4)])))
      expectRejected(() => decodeSnapshot(Buffer.concat([golden.subarray(0, 20), Buffer.from([0xff]), golden.subarray(21)])))
      const bad: Record<string, unknown>[] = [
        {...ok, tree: id('t').toUpperCase()},
        {...ok, tree: 'abc'},
        {...ok, parents: 'x'},
        {...ok, parents: ['nope']},
        {...ok, time: '1'},
        {...ok, user: 1},
        {...ok, host: null},
        {...ok, message: undefined},
        {...ok, meta: null},
        {...ok, meta: {a: 1}},
        {...ok, signature: {key: 'k'}},
      ]
      for (const o of bad) expectRejected(() => decodeSnapshot(withJson(JSON.stringify(o))))
      for (const json of ['null', '[]', '5', '"s"', '']) expectRejected(() => decodeSnapshot(withJson(json)))
    })

    it('non-canonical encodings (whitespace, key order, duplicate keys, unsorted meta)', () => {
      const s: Snapshot = {tree: id('t'), parents: [], time: 1, user: 'u', host: 'h', message: '', meta: {a: '1', b: '2'}}
      const canon = encodeSnapshot(s).subarray(4).toString()
      expect(decodeSnapshot(withJson(canon))).toEqual(s)
      expectRejected(() => decodeSnapshot(withJson(JSON.stringify(s, null, 1))))
      expectRejected(() => decodeSnapshot(withJson(' ' + canon)))
      expectRejected(() => decodeSnapshot(withJson(canon.replace('"meta":{"a":"1","b":"2"}', '"meta":{"b":"2","a":"1"}'))))
      expectRejected(() => decodeSnapshot(withJson(canon.replace('{"tree"', `{"tree":"${id('x')}","tree"`))))
      expectRejected(() => decodeSnapshot(withJson(canon.replace('"user":"u","host":"h"', '"host":"h","user":"u"'))))
      expectRejected(() => decodeSnapshot(withJson(canon.replace('}', ',"extra":1}'))))
    })

    it('every single-byte flip is rejected or gives a different, canonically encoded snapshot', () => {
      const original = decodeSnapshot(golden)
      for (const f of flips(golden)) {
        let s: Snapshot
        try {
          s = decodeSnapshot(f.bytes)
        } catch (err) {
          expect(err, `flip at ${f.pos}`).toBeInstanceOf(VeloError)
          expect((err as VeloError).code).toBe('ERR_VELO_CORRUPT')
          continue
        }
        expect(s, `flip at ${f.pos} mask ${f.mask}`).not.toEqual(original)
        expect(encodeSnapshot(s).equals(f.bytes), `flip at ${f.pos} mask ${f.mask} decoded non-canonically`).toBe(true)
      }
    })
  })
})
