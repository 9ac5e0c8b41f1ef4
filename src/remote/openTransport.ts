/** Opens the transport for a remote URL, wrapped in the retry decorator. S3 code loads only for s3://. */
import {readSetting} from '../repo/settings.js'
import {FileTransport} from './file/FileTransport.js'
import {parseRemoteUrl} from './remoteUrl.js'
import type {RemoteSpec} from './RemoteConfig.js'
import type {S3TransportOptions} from './s3/S3Transport.js'
import type {Transport} from './Transport.js'
import {withRetry, type RetryOptions} from './withRetry.js'

export interface OpenTransportOptions {
  /** The repository's velo.json, for the remote.credentials and remote.profile settings. */
  repoConfig?: Record<string, unknown>
  retry?: RetryOptions
  s3?: S3TransportOptions
  /** Skip the retry decorator (tests that wrap transports themselves). */
  raw?: boolean
}

export async function openTransport(spec: RemoteSpec, o: OpenTransportOptions = {}): Promise<Transport> {
  const loc = parseRemoteUrl(spec.url)
  let t: Transport
  if (loc.kind === 'file') t = new FileTransport(loc.path)
  else {
    const [{S3Transport}, {resolveS3Settings}] = await Promise.all([import('./s3/S3Transport.js'), import('./s3/awsConfig.js')])
    const credentials = readSetting(o.repoConfig, 'remote.credentials').value as 'auto' | 'env' | 'profile'
    const profile = String(readSetting(o.repoConfig, 'remote.profile').value)
    const settings = resolveS3Settings({endpoint: spec.endpoint, region: spec.region, pathStyle: spec.pathStyle, credentials, profile})
    t = new S3Transport(loc.bucket, loc.prefix, settings, o.s3)
  }
  return o.raw ? t : withRetry(t, o.retry)
}
