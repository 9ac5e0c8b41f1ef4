/** Remote URLs: `file:///path` or a plain path (a directory), `s3://bucket/prefix`. */
import {resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {VeloError} from '../util/errors.js'

export type RemoteLocation = {kind: 'file'; path: string} | {kind: 's3'; bucket: string; prefix: string}

const bucketRe = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

export function parseRemoteUrl(url: string, cwd = process.cwd()): RemoteLocation {
  const bad = (why: string): never => {
    throw new VeloError('ERR_VELO_USAGE', `bad remote URL ${JSON.stringify(url)}: ${why}`, {
      hint: 'use s3://BUCKET/PREFIX, file:///ABSOLUTE/PATH or a directory path',
    })
  }
  if (url === '') bad('empty')
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined) return {kind: 'file', path: resolve(cwd, url)}
  if (scheme === 'file') {
    try {
      return {kind: 'file', path: fileURLToPath(url)}
    } catch (err) {
      return bad((err as Error).message)
    }
  }
  if (scheme === 's3') {
    const rest = url.slice(5)
    const slash = rest.indexOf('/')
    const host = slash < 0 ? rest : rest.slice(0, slash)
    if (host.includes('@') || host.includes(':')) {
      bad('credentials do not belong in the URL; use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws/credentials')
    }
    if (!bucketRe.test(host)) bad(`${JSON.stringify(host)} is not a bucket name`)
    const prefix = (slash < 0 ? '' : rest.slice(slash + 1)).replace(/^\/+|\/+$/g, '').replace(/\/{2,}/g, '/')
    if (prefix.split('/').some((s) => s === '.' || s === '..')) bad('. and .. are not allowed in the prefix')
    return {kind: 's3', bucket: host, prefix}
  }
  return bad(`unsupported scheme ${scheme}:// (velo speaks s3:// and file://)`)
}

/** The canonical form stored in remotes.json. */
export function formatRemoteUrl(loc: RemoteLocation): string {
  return loc.kind === 'file' ? loc.path : `s3://${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ''}`
}
