/**
 * The remotes of a repository, in `<repo>/remotes.json`:
 *   {"remotes": {"origin": {"url": "s3://bucket/prefix", "endpoint": "http://…", "region": "…", "pathStyle": true}}}
 * Only where a remote is; credentials never go here (they come from the AWS environment/config).
 */
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {acquireLock} from '../refs/lockFile.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError, isErrno} from '../util/errors.js'
import {atomicWrite, mkdirp} from '../util/fsx.js'
import {formatRemoteUrl, parseRemoteUrl} from './remoteUrl.js'

export interface RemoteSpec {
  url: string
  endpoint?: string
  region?: string
  pathStyle?: boolean
}

export interface NamedRemote extends RemoteSpec {
  name: string
}

const nameRe = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

export function assertRemoteName(name: string): void {
  if (!nameRe.test(name) || name.endsWith('.lock')) {
    throw new VeloError('ERR_VELO_USAGE', `bad remote name ${JSON.stringify(name)}`, {
      hint: 'use letters, digits and . _ - (no /), e.g. origin',
    })
  }
}

function configPath(repo: Repository): string {
  return join(repo.root, 'remotes.json')
}

/** Cache of the remote's pack indexes: `<repo>/remotes-cache/<remote>/`. */
export function remoteCacheDir(repo: Repository, name: string): string {
  return join(repo.root, 'remotes-cache', name)
}

export function readRemotes(repo: Repository): Record<string, RemoteSpec> {
  let text: string
  try {
    text = readFileSync(configPath(repo), 'utf8')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return {}
    throw err
  }
  try {
    const o = JSON.parse(text) as {remotes?: Record<string, RemoteSpec>}
    return o.remotes ?? {}
  } catch (err) {
    throw new VeloError('ERR_VELO_CORRUPT', `${configPath(repo)} is not valid JSON: ${(err as Error).message}`, {
      hint: 'fix or delete the file, then add the remotes again with velo remote add',
    })
  }
}

export function listRemotes(repo: Repository): NamedRemote[] {
  return Object.entries(readRemotes(repo))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, spec]) => ({name, ...spec}))
}

export function getRemote(repo: Repository, name: string): NamedRemote {
  const spec = readRemotes(repo)[name]
  if (!spec) {
    const known = Object.keys(readRemotes(repo))
    throw new VeloError('ERR_VELO_NOT_FOUND', `no remote named ${JSON.stringify(name)}`, {
      hint: known.length ? `known remotes: ${known.join(', ')}; add one with velo remote add NAME URL` : 'add one with velo remote add NAME URL',
    })
  }
  return {name, ...spec}
}

function edit(repo: Repository, fn: (remotes: Record<string, RemoteSpec>) => void): void {
  mkdirp(join(repo.root, 'locks'))
  const lock = acquireLock(join(repo.root, 'locks', 'remotes.json.lock'), {command: 'remote', what: 'remote configuration: lock'})
  try {
    const remotes = readRemotes(repo)
    fn(remotes)
    atomicWrite(configPath(repo), JSON.stringify({remotes}, null, 2) + '\n')
  } finally {
    lock.release()
  }
}

export function addRemote(repo: Repository, name: string, url: string, o: Omit<RemoteSpec, 'url'> = {}): NamedRemote {
  assertRemoteName(name)
  const loc = parseRemoteUrl(url)
  if (loc.kind === 'file' && (o.endpoint || o.region || o.pathStyle !== undefined)) {
    throw new VeloError('ERR_VELO_USAGE', '--endpoint, --region and --path-style are for s3:// remotes', {hint: 'drop them for a directory remote'})
  }
  if (o.endpoint !== undefined) {
    try {
      const u = new URL(o.endpoint)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)')
      if (u.username || u.password) throw new Error('credentials do not belong in the endpoint')
    } catch (err) {
      throw new VeloError('ERR_VELO_USAGE', `bad endpoint ${JSON.stringify(o.endpoint)}: ${(err as Error).message}`, {
        hint: 'e.g. --endpoint http://127.0.0.1:7480',
      })
    }
  }
  const spec: RemoteSpec = {url: formatRemoteUrl(loc)}
  if (o.endpoint) spec.endpoint = o.endpoint.replace(/\/+$/, '')
  if (o.region) spec.region = o.region
  if (o.pathStyle !== undefined) spec.pathStyle = o.pathStyle
  edit(repo, (remotes) => {
    if (remotes[name]) {
      throw new VeloError('ERR_VELO_USAGE', `remote ${name} exists already (${remotes[name].url})`, {
        hint: `remove it first with velo remote remove ${name}`,
      })
    }
    remotes[name] = spec
  })
  return {name, ...spec}
}

/** Removes the remote, its remote-tracking refs and its index cache. */
export function removeRemote(repo: Repository, name: string): {name: string; url: string; trackingRefs: number} {
  const spec = getRemote(repo, name)
  edit(repo, (remotes) => {
    delete remotes[name]
  })
  let trackingRefs = 0
  for (const r of repo.refs.list(`remotes/${name}/`)) {
    repo.refs.update(r.name, {to: null, command: 'remote remove'})
    repo.refs.deleteLog(r.name)
    trackingRefs++
  }
  rmSync(remoteCacheDir(repo, name), {recursive: true, force: true})
  return {name, url: spec.url, trackingRefs}
}
