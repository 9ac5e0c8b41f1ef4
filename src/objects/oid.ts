import {VeloError} from '../util/errors.js'

/** An object id: BLAKE3-256 as 64 lowercase hex digits. */
export type Oid = string & {readonly __oid: unique symbol}

export const OID_HEX = 64

const hexRe = /^[0-9a-f]{64}$/

export function isOid(s: string): s is Oid {
  return hexRe.test(s)
}

export function oidFromBytes(b: Uint8Array, offset = 0): Oid {
  return Buffer.from(b.buffer, b.byteOffset + offset, 32).toString('hex') as Oid
}

export function oidToBytes(oid: Oid): Buffer {
  return Buffer.from(oid, 'hex')
}

export function assertOid(s: string): Oid {
  if (!isOid(s)) throw new VeloError('ERR_VELO_CORRUPT', `not an object id: ${s.slice(0, 80)}`)
  return s
}

/** The id of the empty blob, BLAKE3(""). */
export const EMPTY_BLOB = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262' as Oid
