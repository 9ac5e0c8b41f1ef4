/**
 * The remote a mount fetches missing file content from (lazy checkout), and the snapshot's
 * metadata made local before it is mounted:
 * - `REMOTE/REF` (REMOTE a configured remote, no local ref of that name): that remote; when the
 *   remote-tracking ref is not known here yet, or its snapshot's metadata is missing, the ref is
 *   read from the remote and its snapshots and trees are pulled (`pull --metadata-only`, local refs
 *   untouched);
 * - `--remote NAME`: that remote, for any revision (a plain id, a local ref);
 * - a local ref REF: the remote with a tracking ref REMOTE/REF (the one pointing at the same
 *   snapshot first), as after `velo clone` or `velo pull --metadata-only`.
 * Without any of these the mount reads only local content (as before lazy checkout existed).
 * Imports stay light: the pull code loads only when metadata has to be fetched.
 */
import type {Oid} from '../objects/oid.js'
import type {OnTransferProgress} from '../remote/progress.js'
import {getRemote, readRemotes} from '../remote/RemoteConfig.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError} from '../util/errors.js'

export interface MountRemote {
  remote: string
  /** The ref whose metadata was pulled for this checkout, if any. */
  pulled?: string
}

const isNotFound = (err: unknown): boolean => err instanceof VeloError && err.code === 'ERR_VELO_NOT_FOUND'

function readRef(repo: Repository, name: string): Oid | undefined {
  try {
    return repo.refs.read(name)
  } catch (err) {
    if (err instanceof VeloError) return undefined // a damaged ref: resolve() reports it
    throw err
  }
}

/** Whether the snapshot `rev` names, or its root tree, is missing from the repository. */
function lacksMetadata(repo: Repository, rev: string): boolean {
  try {
    const snap = repo.readSnapshot(repo.resolveSnapshot(rev))
    return !repo.packs.has(snap.tree)
  } catch (err) {
    if (isNotFound(err)) return true
    throw err
  }
}

/** The remote whose tracking ref mirrors local ref `name`. */
function trackingRemoteOf(repo: Repository, name: string, remotes: string[]): string | undefined {
  const local = readRef(repo, name)
  if (!local) return undefined
  const tracking = remotes.filter((r) => readRef(repo, `remotes/${r}/${name}`) !== undefined)
  return tracking.find((r) => readRef(repo, `remotes/${r}/${name}`) === local) ?? tracking[0]
}

export async function prepareMountRemote(repo: Repository, rev: string, o: {remote?: string; log?: (msg: string) => void; onProgress?: OnTransferProgress} = {}): Promise<MountRemote | undefined> {
  const remotes = readRemotes(repo)
  if (o.remote !== undefined) getRemote(repo, o.remote) // unknown: the usual error, with the known names
  const base = rev.replace(/(?:~\d*)*$/, '')
  const slash = base.indexOf('/')
  const tracking =
    slash > 0 && Object.hasOwn(remotes, base.slice(0, slash)) && readRef(repo, base) === undefined
      ? {remote: base.slice(0, slash), ref: base.slice(slash + 1)}
      : undefined
  const remote = o.remote ?? tracking?.remote ?? trackingRemoteOf(repo, base, Object.keys(remotes).sort())
  if (remote === undefined) return undefined
  if (!tracking || !lacksMetadata(repo, rev)) return {remote}
  const {pull} = await import('../api/pull.js')
  const started = performance.now()
  const r = await pull(repo, {remote: tracking.remote, refs: [tracking.ref], metadataOnly: true, noLocalRefs: true, onProgress: o.onProgress})
  o.log?.(`fetched the metadata of ${tracking.remote}/${tracking.ref} (${r.refs[0]?.remote.slice(0, 12)}): ${r.objects} objects, ${r.bytes} bytes in ${r.requests} requests, ${Math.round(performance.now() - started)} ms`)
  return {remote: tracking.remote, pulled: tracking.ref}
}
