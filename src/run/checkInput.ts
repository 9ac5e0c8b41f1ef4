/**
 * Before a command runs on a snapshot that was not just recorded here (--in REV, replay): are all
 * its trees and files in this repository? A run on a partial checkout would fail, or worse, record
 * different outputs, for a reason that has nothing to do with the command.
 */
import type {Oid} from '../objects/oid.js'
import type {Repository} from '../repo/Repository.js'
import {listRemotes} from '../remote/RemoteConfig.js'
import {VeloError} from '../util/errors.js'

export interface MissingObject {
  id: Oid
  kind: 'snapshot' | 'tree' | 'file'
  /** Path below the snapshot's root ('' for the root). */
  path: string
}

/**
 * The first object of the snapshot that is not in the repository, if any. Only a repository with
 * remotes is checked file by file: a partial pull (--metadata-only) is the one regular way to
 * hold a snapshot without its contents; elsewhere a missing object is damage (velo verify, velo
 * fsck), and walking every tree of a big snapshot costs more than the rest of a run.
 */
export function findMissing(repo: Repository, snapshot: Oid, o: {always?: boolean} = {}): MissingObject | undefined {
  if (!repo.packs.has(snapshot)) return {id: snapshot, kind: 'snapshot', path: ''}
  if (!o.always && listRemotes(repo).length === 0) return undefined
  const root = repo.readSnapshot(snapshot).tree
  const seen = new Set<string>()
  const stack: {id: Oid; path: string}[] = [{id: root, path: ''}]
  while (stack.length > 0) {
    const t = stack.pop()!
    if (seen.has(t.id)) continue
    seen.add(t.id)
    if (!repo.packs.has(t.id)) return {id: t.id, kind: 'tree', path: t.path}
    for (const e of repo.readTree(t.id)) {
      const path = t.path ? `${t.path}/${e.name}` : e.name
      if (e.kind === 'dir') stack.push({id: e.id, path})
      else if (e.kind !== 'symlink' && !seen.has(e.id)) {
        seen.add(e.id)
        if (!repo.packs.has(e.id)) return {id: e.id, kind: 'file', path}
      }
    }
  }
  return undefined
}

/** The error for a missing input: what is missing, and which remote to pull it from. */
export function missingInputError(repo: Repository, what: string, m: MissingObject, rev?: string): VeloError {
  const remotes = listRemotes(repo).map((r) => r.name)
  const ref = rev && !/^[0-9a-f]{4,64}$/.test(rev) ? rev.replace(/^remotes\//, '').replace(/~\d*$/, '') : undefined
  const fromRemote = ref && remotes.find((r) => ref.startsWith(`${r}/`))
  const target = fromRemote ? `velo pull ${fromRemote} ${ref!.slice(fromRemote.length + 1)}` : remotes.length === 1 ? `velo pull ${remotes[0]}${ref ? ` ${ref}` : ''}` : undefined
  const hint = target
    ? `fetch it: ${target}`
    : remotes.length > 1
      ? `fetch it from the remote that has it: velo pull REMOTE${ref ? ` ${ref}` : ''} (remotes: ${remotes.join(', ')})`
      : 'this repository has no remote to fetch it from: add one with velo remote add NAME URL, then velo pull NAME'
  const where = m.kind === 'snapshot' ? `its snapshot ${m.id}` : `${m.kind} ${m.id}${m.path ? ` (${m.path})` : ' (the root)'}`
  return new VeloError('ERR_VELO_NOT_FOUND', `${what} is not complete in this repository: ${where} is missing`, {
    hint,
    data: {id: m.id, kind: m.kind, path: m.path, remotes},
  })
}
