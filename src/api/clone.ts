/** `velo clone URL [PATH]`: a new repository with the remote as `origin` and a local ref per remote ref. */
import {existsSync, readdirSync, rmSync} from 'node:fs'
import {resolve} from 'node:path'
import {Repository, initRepository, isRepository} from '../repo/Repository.js'
import type {OnTransferProgress} from '../remote/progress.js'
import {addRemote} from '../remote/RemoteConfig.js'
import type {Transport} from '../remote/Transport.js'
import {VeloError} from '../util/errors.js'
import {pull, type PullResult} from './pull.js'

export interface CloneOptions {
  url: string
  /** Where the new repository goes (must not exist, or be empty). */
  path: string
  remoteName?: string
  endpoint?: string
  region?: string
  pathStyle?: boolean
  metadataOnly?: boolean
  transport?: Transport
  onProgress?: OnTransferProgress
  onWarning?: (msg: string) => void
}

export interface CloneResult {
  path: string
  remote: string
  url: string
  pull: PullResult
}

export async function clone(o: CloneOptions): Promise<CloneResult> {
  const path = resolve(o.path)
  if (isRepository(path)) {
    throw new VeloError('ERR_VELO_REPO_EXISTS', `${path} is a repository already`, {
      hint: 'clone into a new directory (velo clone URL PATH), or add the remote to this one: velo remote add origin URL && velo pull origin',
    })
  }
  const existed = existsSync(path)
  initRepository(path)
  const name = o.remoteName ?? 'origin'
  const repo = Repository.open(path)
  try {
    const remote = addRemote(repo, name, o.url, {endpoint: o.endpoint, region: o.region, pathStyle: o.pathStyle})
    const r = await pull(repo, {remote: name, metadataOnly: o.metadataOnly, transport: o.transport, onProgress: o.onProgress, onWarning: o.onWarning})
    return {path, remote: name, url: remote.url, pull: r}
  } catch (err) {
    repo.close()
    // Leave nothing behind: the directory was new or empty.
    if (existed) for (const f of readdirSync(path)) rmSync(resolve(path, f), {recursive: true, force: true})
    else rmSync(path, {recursive: true, force: true})
    throw err
  } finally {
    repo.close()
  }
}
