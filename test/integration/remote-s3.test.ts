/**
 * The transport contract against a real Ceph RGW (scripts/rgw.sh), plus what only S3 has: signed
 * requests (a wrong secret is a clear auth error), a missing bucket, multipart uploads. Runs when
 * VELO_TEST_S3=1 (npm test and CI set it); an unreachable endpoint then fails, it never skips.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {RemoteRepo} from '../../src/remote/RemoteRepo.js'
import {VeloError} from '../../src/util/errors.js'
import {describeTransport} from '../contracts/transport.js'
import {s3Enabled, testBucket, type TestBucket} from '../helpers/remotes.js'
import {randomBytes} from '../helpers/trees.js'

describe.skipIf(!s3Enabled)('S3 (Ceph RGW)', () => {
  let bucket: TestBucket
  beforeAll(async () => {
    bucket = await testBucket('contract')
  })
  afterAll(async () => {
    await bucket?.destroy()
  })

  // Small multipart thresholds, so that the contract's large object goes up in parts.
  describeTransport('s3', () => bucket.remote({multipartThreshold: 6 << 20, partSize: 5 << 20}))

  it('reports a wrong secret as an auth error with a hint, without printing the secret', async () => {
    const t = bucket.transport('auth', {}, {...bucket.settings, credentials: {accessKeyId: 'VELOAK', secretAccessKey: 'not-the-secret'}})
    const err = await t.list('refs/').then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(VeloError)
    const e = err as VeloError
    expect(e.code).toBe('ERR_VELO_REMOTE')
    expect(e.message).toMatch(/access denied.*403 SignatureDoesNotMatch/)
    expect(e.hint).toMatch(/AWS_SECRET_ACCESS_KEY/)
    expect(JSON.stringify(e.toJSON())).not.toContain('not-the-secret')
    expect((e as VeloError & {transient?: boolean}).transient).toBe(false)
  })

  it('reports a missing bucket clearly', async () => {
    const t = bucket.transport('x')
    const other = new (t.constructor as typeof import('../../src/remote/s3/S3Transport.js').S3Transport)('velo-no-such-bucket-zz', '', bucket.settings)
    const e = await new RemoteRepo(other, 'origin').checkFormat().then(() => undefined, (err: unknown) => err as VeloError)
    expect(e?.code).toBe('ERR_VELO_REMOTE')
    expect(e?.message).toMatch(/bucket velo-no-such-bucket-zz does not exist/)
  })

  it('uploads large objects in parts and reads ranges of them', async () => {
    const t = bucket.transport('multipart', {multipartThreshold: 5 << 20, partSize: 5 << 20})
    const body = randomBytes(11 << 20, 'mp')
    await t.put('packs/big.pack', body)
    const head = await t.head('packs/big.pack')
    expect(head?.size).toBe(body.length)
    expect(head?.etag).toMatch(/-3$/) // a multipart etag names its part count
    const r = await t.get('packs/big.pack', {range: {offset: (5 << 20) - 10, length: 20}})
    expect(r!.data.equals(body.subarray((5 << 20) - 10, (5 << 20) + 10))).toBe(true)
  })
})
