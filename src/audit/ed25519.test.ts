import {describe, expect, it} from 'vitest'
import {generateKeyPair, keyFingerprint, parsePrivateKey, signBytes, verifySignature} from './ed25519.js'

describe('Ed25519 signatures', () => {
  const key = parsePrivateKey(generateKeyPair().privateKey, 'test')
  const data = Buffer.from('VRN1{"some":"record"}')

  it('signs and verifies; any change to the data, the signature or the key fails', () => {
    const sig = signBytes(key, data)
    expect(Buffer.from(sig.key, 'base64')).toHaveLength(32)
    expect(Buffer.from(sig.sig, 'base64')).toHaveLength(64)
    expect(verifySignature(sig, data)).toBe(true)
    const changed = Buffer.from(data)
    changed[5] ^= 1
    expect(verifySignature(sig, changed)).toBe(false)
    const s = Buffer.from(sig.sig, 'base64')
    s[0] ^= 1
    expect(verifySignature({...sig, sig: s.toString('base64')}, data)).toBe(false)
    const other = parsePrivateKey(generateKeyPair().privateKey, 'other')
    expect(verifySignature({...sig, key: other.publicKey}, data)).toBe(false)
  })

  it('rejects malformed keys and signatures without throwing', () => {
    const sig = signBytes(key, data)
    for (const bad of [{...sig, key: 'not base64!'}, {...sig, key: ''}, {...sig, sig: 'AAAA'}, {...sig, key: sig.key.replace(/=$/, '')}]) {
      expect(verifySignature(bad, data)).toBe(false)
    }
  })

  it('names keys by a short fingerprint', () => {
    expect(keyFingerprint(key.publicKey)).toMatch(/^ed25519:[0-9a-f]{16}$/)
  })

  it('refuses keys of other types', async () => {
    const {generateKeyPairSync} = await import('node:crypto')
    const ec = generateKeyPairSync('ec', {namedCurve: 'P-256'}).privateKey.export({format: 'pem', type: 'pkcs8'}).toString()
    expect(() => parsePrivateKey(ec, 'ec.pem')).toThrow(/not ed25519/)
  })
})
