/**
 * Ed25519 signatures with Node's crypto (no third-party code). Public keys travel as base64 of the
 * raw 32-byte key (the `key` of a Signature), signatures as base64 of the 64-byte signature.
 */
import {createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject} from 'node:crypto'
import type {Signature} from '../objects/snapshot.js'

export interface KeyPairPem {
  privateKey: string
  publicKey: string
}

export function generateKeyPair(): KeyPairPem {
  const {privateKey, publicKey} = generateKeyPairSync('ed25519')
  return {
    privateKey: privateKey.export({format: 'pem', type: 'pkcs8'}).toString(),
    publicKey: publicKey.export({format: 'pem', type: 'spki'}).toString(),
  }
}

/** Base64 of the raw 32-byte public key. */
export function rawPublicKey(key: KeyObject): string {
  const x = (key.export({format: 'jwk'}) as {x?: string}).x
  if (!x) throw new Error('not an Ed25519 key')
  return Buffer.from(x, 'base64url').toString('base64')
}

/** A short name for a public key: "ed25519:" and the first 16 hex digits of the raw key. */
export function keyFingerprint(rawBase64: string): string {
  return `ed25519:${Buffer.from(rawBase64, 'base64').subarray(0, 8).toString('hex')}`
}

export interface SigningKey {
  privateKey: KeyObject
  /** Base64 of the raw public key. */
  publicKey: string
  /** Where it was loaded from. */
  path: string
}

export function parsePrivateKey(pem: string, path: string): SigningKey {
  const privateKey = createPrivateKey(pem)
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is a ${privateKey.asymmetricKeyType} key, not ed25519`)
  return {privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)), path}
}

export function signBytes(key: SigningKey, data: Uint8Array): Signature {
  return {key: key.publicKey, sig: sign(null, data, key.privateKey).toString('base64')}
}

/** True when `sig` is a valid Ed25519 signature of `data` by the key it names. */
export function verifySignature(sig: Signature, data: Uint8Array): boolean {
  try {
    const raw = Buffer.from(sig.key, 'base64')
    if (raw.length !== 32 || raw.toString('base64') !== sig.key) return false
    const key = createPublicKey({key: {kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url')}, format: 'jwk'})
    const s = Buffer.from(sig.sig, 'base64')
    if (s.length !== 64) return false
    return verify(null, data, key, s)
  } catch {
    return false
  }
}
