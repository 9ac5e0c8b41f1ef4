import {spawnSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'
import {randomBytes} from '../../test/helpers/trees.js'
import {createHasher, hash} from './hash.js'
import {compareNames, isSafeName} from './names.js'
import {EMPTY_BLOB, assertOid, isOid, oidFromBytes, oidToBytes} from './oid.js'

const EMPTY = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'
const hasB3sum = spawnSync('b3sum', ['--version']).status === 0

describe('BLAKE3', () => {
  it('hashes the empty input to the published value', () => {
    expect(hash(Buffer.alloc(0)).toString('hex')).toBe(EMPTY)
    expect(createHasher().digest().toString('hex')).toBe(EMPTY)
    expect(EMPTY_BLOB).toBe(EMPTY)
  })

  it('matches the official test vector for 1 KiB of 0..250', () => {
    // BLAKE3 test_vectors.json: input_len 1024, input bytes i % 251.
    const input = Buffer.from(Array.from({length: 1024}, (_, i) => i % 251))
    expect(hash(input).toString('hex')).toBe('42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7')
  })

  it('streams to the same digest whatever the update sizes', () => {
    const data = randomBytes(3 << 20, 'stream')
    const whole = hash(data).toString('hex')
    for (const step of [1, 63, 64, 1024, 65536, 1 << 20, 3 << 20]) {
      const h = createHasher()
      const upto = step === 1 ? 5000 : data.length
      for (let i = 0; i < upto; i += step) h.update(data.subarray(i, Math.min(upto, i + step)))
      expect(h.digest().toString('hex')).toBe(step === 1 ? hash(data.subarray(0, 5000)).toString('hex') : whole)
    }
    // Uint8Array views that are not Buffers
    const h = createHasher()
    h.update(new Uint8Array(data.buffer, data.byteOffset, 1000))
    expect(h.digest().equals(hash(data.subarray(0, 1000)))).toBe(true)
  })

  it.skipIf(!hasB3sum)('equals b3sum on empty, small and multi-chunk inputs', () => {
    for (const n of [0, 1, 1023, 1024, 1025, 65537, (3 << 20) + 5]) {
      const data = randomBytes(n, `b3-${n}`)
      const r = spawnSync('b3sum', ['--no-names'], {input: data, encoding: 'utf8'})
      expect(r.status).toBe(0)
      expect(hash(data).toString('hex'), `${n} bytes`).toBe(r.stdout.trim())
    }
  })
})

describe('object ids', () => {
  it('accepts exactly 64 lowercase hex digits', () => {
    expect(isOid(EMPTY)).toBe(true)
    for (const bad of [EMPTY.toUpperCase(), EMPTY.slice(1), EMPTY + '0', EMPTY.replace('a', 'g'), '', ` ${EMPTY.slice(1)}`]) {
      expect(isOid(bad), bad).toBe(false)
    }
    expect(() => assertOid('nope')).toThrow(/not an object id/)
  })

  it('converts between bytes and hex', () => {
    const b = hash(Buffer.from('x'))
    const framed = Buffer.concat([Buffer.alloc(3), b])
    expect(oidFromBytes(framed, 3)).toBe(b.toString('hex'))
    expect(oidToBytes(oidFromBytes(b)).equals(b)).toBe(true)
  })
})

describe('entry names', () => {
  it('are safe unless empty, ".", "..", or containing "/" or NUL', () => {
    for (const ok of ['a', '...', '.a', 'a.', ' ', 'a b', 'é', '\\', '-', '~']) expect(isSafeName(ok), ok).toBe(true)
    for (const bad of ['', '.', '..', '/', 'a/b', '/a', 'a/', 'a\0', '\0']) expect(isSafeName(bad), JSON.stringify(bad)).toBe(false)
  })

  it('sort like their UTF-8 bytes, astral characters included', () => {
    const rs = randomBytes(4000, 'names')
    const pool = ['a', 'Z', '\u00e9', '\u07ff', '\u0800', '\ue000', '\uffff', '\ud800\udc00', '\udbff\udfff', '\ud83d\ude00']
    const names: string[] = []
    for (let i = 0; i < 1000; i++) {
      let s = ''
      for (let k = 0; k < 1 + (rs[i * 4] % 4); k++) s += pool[rs[i * 4 + k] % pool.length]
      names.push(s)
    }
    const byBytes = names.slice().sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    expect(names.slice().sort(compareNames)).toEqual(byBytes)
  })
})
