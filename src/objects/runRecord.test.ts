import {describe, expect, it} from 'vitest'
import {expectRejected, fixture, fixtureJson, flips, truncations} from '../../test/helpers/codec.js'
import {hash} from './hash.js'
import type {Oid} from './oid.js'
import {REDACTED, decodeRunRecord, decodeTraceList, encodeRunRecord, encodeTraceList, runSigningPayload, type RunRecord} from './runRecord.js'

const id = (s: string): Oid => hash(Buffer.from(s)).toString('hex') as Oid
const withJson = (json: string): Buffer => Buffer.concat([Buffer.from('VRN1'), Buffer.from(json)])

describe('run record codec', () => {
  for (const name of ['full', 'signed']) {
    const golden = fixture(`run/${name}.bin`)
    const expected = fixtureJson<{id: string; record: RunRecord}>(`run/${name}.json`)

    it(`decodes and re-encodes the golden bytes (${name})`, () => {
      const r = decodeRunRecord(golden)
      expect(r).toEqual({...expected.record, env: expect.any(Object)})
      expect(Object.entries(r.env).sort()).toEqual(Object.entries(expected.record.env).sort())
      expect(encodeRunRecord(expected.record).equals(golden)).toBe(true)
      expect(hash(golden).toString('hex')).toBe(expected.id)
    })
  }

  it('is canonical: env key order and redacted order do not change the bytes', () => {
    const r = decodeRunRecord(fixture('run/full.bin'))
    const shuffled: RunRecord = {...r, env: Object.fromEntries(Object.entries(r.env).reverse()), redacted: [...r.redacted].reverse()}
    expect(encodeRunRecord(shuffled).equals(fixture('run/full.bin'))).toBe(true)
  })

  it('signs everything but the signature', () => {
    const r = decodeRunRecord(fixture('run/signed.bin'))
    const payload = runSigningPayload(r)
    expect(payload.includes(Buffer.from('"signature"'))).toBe(false)
    expect(decodeRunRecord(payload)).toEqual({...r, signature: undefined, env: {}})
    expect(encodeRunRecord({...r, signature: undefined}).equals(payload)).toBe(true)
  })

  describe('rejects damaged or non-canonical bytes', () => {
    const golden = fixture('run/full.bin')
    const json = golden.subarray(4).toString('utf8')

    it('every truncation', () => {
      for (const t of truncations(golden)) expectRejected(() => decodeRunRecord(t))
    })

    it('every single-bit flip that still parses must change the id, or be rejected', () => {
      for (const f of flips(golden, [0x01])) {
        try {
          const r = decodeRunRecord(f.bytes)
          // Accepted only if it is another canonical record (e.g. a digit changed inside an id).
          expect(encodeRunRecord(r).equals(f.bytes)).toBe(true)
        } catch (err) {
          expect((err as {code?: string}).code).toBe('ERR_VELO_CORRUPT')
        }
      }
    })

    it('whitespace, trailing bytes, reordered or unknown keys', () => {
      expectRejected(() => decodeRunRecord(Buffer.concat([golden, Buffer.from(' ')])))
      expectRejected(() => decodeRunRecord(withJson(JSON.stringify(JSON.parse(json), null, 1))))
      const o = JSON.parse(json) as Record<string, unknown>
      const {input, ...rest} = o
      expectRejected(() => decodeRunRecord(withJson(JSON.stringify({...rest, input}))))
      expectRejected(() => decodeRunRecord(withJson(JSON.stringify({...o, extra: 1}))))
      expectRejected(() => decodeRunRecord(withJson(JSON.stringify({...o, env: {PATH: '/bin', HOME: '/'}, redacted: []}))))
    })

    it('fields of the wrong type or out of range', () => {
      const o = JSON.parse(json) as Record<string, unknown>
      const bad: Record<string, unknown>[] = [
        {input: 'abc'},
        {previous: 'x'},
        {argv: []},
        {argv: ['a', 1]},
        {cwd: '/abs'},
        {cwd: 'a/../b'},
        {redacted: ['PATH']},
        {redacted: ['NOT_SET']},
        {exitCode: 256},
        {exitCode: null, signal: null},
        {exitCode: 1, signal: 'SIGTERM'},
        {signal: 'TERM', exitCode: null},
        {interrupted: 'no'},
        {start: -1},
        {duration: 1.5},
        {mode: 'docker'},
        {trace: {count: 3, paths: ['a']}},
        {trace: {count: 1, paths: ['../etc/passwd']}},
        {trace: {count: 1, paths: ['a'], blob: id('x')}},
        {stdout: {id: id('x')}},
        {signature: {key: 1}},
      ]
      for (const b of bad) expectRejected(() => decodeRunRecord(withJson(JSON.stringify({...o, ...b}))))
      expectRejected(() => decodeRunRecord(Buffer.from('VSN1{}')))
    })
  })

  it('round-trips trace lists', () => {
    const paths = ['a', 'dir/b c', 'ü/😀', 'x"y']
    expect(decodeTraceList(encodeTraceList(paths))).toEqual(paths)
    expect(decodeTraceList(encodeTraceList([]))).toEqual([])
    expectRejected(() => decodeTraceList(Buffer.from('"a"')))
    expectRejected(() => decodeTraceList(Buffer.from('"../a"\n')))
  })

  it('marks redacted values', () => {
    expect(REDACTED).toBe('[redacted]')
  })
})
