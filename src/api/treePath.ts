/** Finding entries of a snapshot's tree by path. */
import type {Oid} from '../objects/oid.js'
import type {TreeEntry} from '../objects/tree.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError} from '../util/errors.js'

/** Splits "REV:PATH" (PATH may be empty). */
export function splitRevPath(spec: string): {rev: string; path: string} {
  const i = spec.indexOf(':')
  if (i < 0) return {rev: spec, path: ''}
  return {rev: spec.slice(0, i), path: spec.slice(i + 1)}
}

export function normalizeTreePath(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) throw new VeloError('ERR_VELO_USAGE', `path ${JSON.stringify(path)} may not contain ..`)
  return parts
}

/** The entry at `path` below tree `root` (symlinks are not followed). The root itself is a dir entry. */
export function entryAt(repo: Repository, root: Oid, path: string): TreeEntry {
  const parts = normalizeTreePath(path)
  let cur: TreeEntry = {name: '', kind: 'dir', size: 0, id: root}
  for (let i = 0; i < parts.length; i++) {
    if (cur.kind !== 'dir') {
      throw new VeloError('ERR_VELO_NOT_FOUND', `${parts.slice(0, i).join('/')} is not a directory in the snapshot`)
    }
    const next = repo.readTree(cur.id).find((e) => e.name === parts[i])
    if (!next) throw new VeloError('ERR_VELO_NOT_FOUND', `path ${parts.slice(0, i + 1).join('/')} is not in the snapshot`, {hint: 'list it with velo ls REV -r'})
    cur = next
  }
  return cur
}

/** The root tree of any revision (a snapshot). */
export function rootTreeOf(repo: Repository, rev: string): {snapshot: Oid; tree: Oid} {
  const snapshot = repo.resolveSnapshot(rev)
  return {snapshot, tree: repo.readSnapshot(snapshot).tree}
}
