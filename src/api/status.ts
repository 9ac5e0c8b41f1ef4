/**
 * `velo status [DIR]`: which repository is in use, what the next snapshot of DIR would change
 * (a dry-run scan with the stat cache, compared with the snapshot DIR's ref points at) and which
 * mounts of the repository are active. Stores nothing.
 */
import {lstatSync, readdirSync, realpathSync} from 'node:fs'
import type {Change} from '../diff/diffTrees.js'
import {listMounts} from '../mount/registry.js'
import {defaultRepoPath, isRepository, Repository} from '../repo/Repository.js'
import {refNaming} from '../repo/settings.js'
import {refNameFor} from '../snapshot/refNameFor.js'
import type {ScanProgress} from '../snapshot/scanTree.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {diff} from './diff.js'

export interface StatusMount {
  mountpoint: string
  snapshot: string
  rev: string
  readOnly: boolean
  upper: string | null
  pid: number
  since: string
}

export interface StatusResult {
  repository: {path: string; exists: boolean; from: 'flag' | 'env' | 'default'}
  /** DIR, absolute with symlinks resolved. */
  dir: string
  /** The ref the next `velo snapshot DIR` moves (or --ref). */
  ref: string
  /** The snapshot that ref points at, and when it was taken; null before the first snapshot. */
  snapshot: string | null
  time: string | null
  /** Paths the next snapshot would add, modify, delete or change in type; null before the first snapshot. */
  changes: Change[] | null
  counts: {added: number; modified: number; deleted: number; typeChanged: number}
  /** Before the first snapshot: what it would record. */
  new: {files: number; dirs: number; symlinks: number; bytes: number} | null
  mounts: StatusMount[]
}

export interface StatusOptions {
  repo?: string
  dir: string
  ref?: string
  onProgress?: (p: ScanProgress) => void
}

/** Counts what a first snapshot would record (no hashing). */
function countTree(root: string): NonNullable<StatusResult['new']> {
  const n = {files: 0, dirs: 0, symlinks: 0, bytes: 0}
  const walk = (dir: string): void => {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch (err) {
      if (isErrno(err, 'EACCES', 'EPERM')) return
      throw fsError(err, dir, 'listing')
    }
    for (const name of names) {
      const p = `${dir}/${name}`
      const st = lstatSync(p, {throwIfNoEntry: false})
      if (!st) continue
      if (st.isDirectory()) {
        n.dirs++
        walk(p)
      } else if (st.isFile()) {
        n.files++
        n.bytes += st.size
      } else if (st.isSymbolicLink()) n.symlinks++
    }
  }
  walk(root)
  return n
}

export async function status(o: StatusOptions): Promise<StatusResult> {
  const path = defaultRepoPath(o.repo)
  const from = o.repo ? 'flag' : process.env.VELO_REPO ? 'env' : 'default'
  let dir: string
  try {
    dir = realpathSync(o.dir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new VeloError('ERR_VELO_NOT_FOUND', `${o.dir} does not exist`, {hint: 'check the path'})
    throw fsError(err, o.dir, 'reading')
  }
  if (!lstatSync(dir).isDirectory()) throw new VeloError('ERR_VELO_USAGE', `${o.dir} is not a directory`, {hint: 'velo status takes a directory'})
  const exists = isRepository(path)
  const counts = {added: 0, modified: 0, deleted: 0, typeChanged: 0}
  const base = {repository: {path, exists, from} as StatusResult['repository'], dir}
  if (!exists) {
    const n = countTree(dir)
    return {...base, ref: o.ref ?? refNameFor(dir), snapshot: null, time: null, changes: null, counts: {...counts, added: n.files + n.symlinks}, new: n, mounts: []}
  }
  const repo = Repository.open(path)
  try {
    const ref = o.ref ?? refNameFor(dir, refNaming(repo.config))
    const mounts: StatusMount[] = listMounts(repo.root, {prune: false}).map((m) => ({
      mountpoint: m.mountpoint, snapshot: m.snapshot, rev: m.rev, readOnly: m.readOnly, upper: m.upper, pid: m.pid, since: m.since,
    }))
    const snap = repo.refs.read(ref) ?? null
    if (!snap) {
      const n = countTree(dir)
      return {...base, ref, snapshot: null, time: null, changes: null, counts: {...counts, added: n.files + n.symlinks}, new: n, mounts}
    }
    const time = new Date(repo.readSnapshot(snap).time).toISOString()
    const d = await diff(repo, snap, dir, {onProgress: o.onProgress})
    for (const c of d.changes) {
      if (c.status === 'A') counts.added++
      else if (c.status === 'M') counts.modified++
      else if (c.status === 'D') counts.deleted++
      else counts.typeChanged++
    }
    return {...base, ref, snapshot: snap, time, changes: d.changes, counts, new: null, mounts}
  } finally {
    repo.close()
  }
}
