/**
 * Remotes for tests: a fresh directory, or a fresh prefix in a bucket of the real Ceph RGW that
 * scripts/rgw.sh starts (VELO_TEST_S3=1 plus the AWS_* / VELO_S3_ENDPOINT variables of
 * `scripts/rgw.sh env`). When VELO_TEST_S3=1 an unreachable endpoint fails the tests.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {FileTransport} from '../../src/remote/file/FileTransport.js'
import type {RemoteSpec} from '../../src/remote/RemoteConfig.js'
import {resolveS3Settings, type S3Settings} from '../../src/remote/s3/awsConfig.js'
import {S3Transport, type S3TransportOptions} from '../../src/remote/s3/S3Transport.js'
import type {Transport} from '../../src/remote/Transport.js'

export interface RemoteFixture {
  spec: RemoteSpec
  /** A transport to the same place, without retries (for poking at the remote directly). */
  raw: Transport
  cleanup(): Promise<void>
}

export const s3Enabled = process.env.VELO_TEST_S3 === '1'

export function fileRemote(): RemoteFixture {
  const dir = mkdtempSync(join(tmpdir(), 'velo-remote-'))
  const path = join(dir, 'remote')
  return {spec: {url: path}, raw: new FileTransport(path), cleanup: async () => rmSync(dir, {recursive: true, force: true})}
}

export interface TestBucket {
  bucket: string
  settings: S3Settings
  /** A remote under a new prefix of this bucket. */
  remote(o?: S3TransportOptions): RemoteFixture
  transport(prefix: string, o?: S3TransportOptions, settings?: S3Settings): S3Transport
  destroy(): Promise<void>
}

/** Creates a bucket with a random name on the test RGW. */
export async function testBucket(label = 't'): Promise<TestBucket> {
  const settings = resolveS3Settings({})
  if (!process.env.VELO_S3_ENDPOINT) throw new Error('VELO_TEST_S3=1 but VELO_S3_ENDPOINT is not set: eval "$(bash scripts/rgw.sh env)"')
  const bucket = `velo-${label}-${randomBytes(5).toString('hex')}`
  const root = new S3Transport(bucket, '', settings)
  await root.createBucket()
  return {
    bucket,
    settings,
    transport: (prefix, o, s) => new S3Transport(bucket, prefix, s ?? settings, o),
    remote(o) {
      const prefix = `p-${randomBytes(4).toString('hex')}`
      return {
        spec: {url: `s3://${bucket}/${prefix}`, endpoint: settings.endpoint},
        raw: new S3Transport(bucket, prefix, settings, o),
        cleanup: async () => undefined,
      }
    },
    async destroy() {
      const all = await root.list('')
      for (let i = 0; i < all.length; i += 16) await Promise.all(all.slice(i, i + 16).map((o) => root.delete(o.key)))
      await root.deleteBucket()
    },
  }
}
