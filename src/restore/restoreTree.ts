/**
 * Writes a snapshot's tree into a directory as real files: exec bits, symlinks, empty files and
 * directories exactly as snapshotted (files 0644 or 0755, directories 0755). Never follows a
 * symlink while writing and never writes outside the target: names were validated when the trees
 * were decoded, files are created with O_EXCL|O_NOFOLLOW, and existing entries are replaced only
 * with --force, after lstat shows what they are.
 */
import {
  closeSync, constants, lstatSync, mkdirSync, openSync, readdirSync, rmSync, symlinkSync,
} from 'node:fs'
import {createHasher} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import type {TreeEntry} from '../objects/tree.js'
import {ObjectType} from '../pack/block.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {writeAll} from '../util/fsx.js'

export interface RestoreOptions {
  force?: boolean
  onProgress?: (p: {files: number; bytes: number; totalFiles: number; totalBytes: number}) => void
}

export interface RestoreResult {
  files: number
  dirs: number
  symlinks: number
  bytes: number
  removed: number
}

interface FileJob {
  path: string
  entry: TreeEntry
  pack: string
  order: number
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

export function restoreTree(repo: Repository, tree: Oid, dest: string, o: RestoreOptions = {}): RestoreResult {
  const result: RestoreResult = {files: 0, dirs: 0, symlinks: 0, bytes: 0, removed: 0}
  let st
  try {
    st = lstatSync(dest, {throwIfNoEntry: false})
  } catch (err) {
    throw fsError(err, dest, 'reading')
  }
  if (st && !st.isDirectory()) {
    throw new VeloError('ERR_VELO_TARGET_NOT_EMPTY', `${dest} exists and is not a directory`, {hint: 'choose a new or empty directory'})
  }
  if (st && readdirSync(dest).length > 0 && !o.force) {
    throw new VeloError('ERR_VELO_TARGET_NOT_EMPTY', `${dest} is not empty`, {
      hint: 'restore into a new or empty directory, or pass --force to make it match the snapshot (entries not in the snapshot are removed)',
    })
  }
  const oldMask = process.umask(0o022)
  try {
    if (!st) mkdirp(dest)
    const jobs: FileJob[] = []
    let totalBytes = 0
    // Pass 1: directories and symlinks, depth first; collect files.
    const walk = (treeId: Oid, dir: string, existing: boolean): void => {
      const entries = repo.readTree(treeId)
      if (existing) result.removed += removeExtras(dir, entries)
      for (const e of entries) {
        const p = `${dir}/${e.name}`
        const cur = existing ? lstatSync(p, {throwIfNoEntry: false}) : undefined
        if (e.kind === 'dir') {
          let exists = false
          if (cur) {
            if (cur.isDirectory()) exists = true
            else rmSync(p, {force: true})
          }
          if (!exists) mkdirSync(p, 0o755)
          result.dirs++
          walk(e.id, p, exists)
        } else {
          if (cur) rmSync(p, {recursive: true, force: true})
          if (e.kind === 'symlink') {
            symlinkSync(e.target!, p)
            result.symlinks++
          } else {
            jobs.push({path: p, entry: e, pack: '', order: 0})
            totalBytes += e.size
          }
        }
      }
    }
    try {
      walk(tree, dest, Boolean(st))
    } catch (err) {
      throw fsError(err, dest, 'restoring into')
    }
    // Pass 2: files, in pack order so that each block is decompressed once.
    for (const j of jobs) {
      const loc = repo.packs.find(j.entry.id)
      j.order = loc?.record.blockOffset ?? 0
      j.pack = loc?.pack.name ?? ''
    }
    jobs.sort((a, b) => (a.pack < b.pack ? -1 : a.pack > b.pack ? 1 : a.order - b.order))
    let last = 0
    for (const j of jobs) {
      writeFile(repo, j.path, j.entry)
      result.files++
      result.bytes += j.entry.size
      if (o.onProgress && (result.files & 255) === 0) {
        const now = Date.now()
        if (now - last > 100) {
          last = now
          o.onProgress({files: result.files, bytes: result.bytes, totalFiles: jobs.length, totalBytes})
        }
      }
    }
    o.onProgress?.({files: result.files, bytes: result.bytes, totalFiles: jobs.length, totalBytes})
  } finally {
    process.umask(oldMask)
  }
  return result
}

function mkdirp(dir: string): void {
  try {
    mkdirSync(dir, {recursive: true, mode: 0o755})
  } catch (err) {
    throw fsError(err, dir, 'creating')
  }
}

function removeExtras(dir: string, entries: TreeEntry[]): number {
  const keep = new Set(entries.map((e) => e.name))
  let n = 0
  for (const name of readdirSync(dir)) {
    if (!keep.has(name)) {
      rmSync(`${dir}/${name}`, {recursive: true, force: true})
      n++
    }
  }
  return n
}

function writeFile(repo: Repository, path: string, e: TreeEntry): void {
  const mode = e.kind === 'exec' ? 0o755 : 0o644
  let fd: number
  try {
    fd = openSync(path, CREATE, mode)
  } catch (err) {
    if (isErrno(err, 'ELOOP', 'EEXIST')) {
      throw new VeloError('ERR_VELO_UNSAFE_PATH', `refusing to write ${path}: something appeared there during the restore`, {hint: 'restore into a directory nobody else writes to'})
    }
    throw fsError(err, path, 'creating')
  }
  try {
    const chunks = repo.packs.chunksOf(e.id, e.size)
    if (chunks.length === 1 && chunks[0].id === e.id) {
      writeAll(fd, repo.packs.read(e.id, ObjectType.blob).data)
    } else {
      const h = createHasher()
      for (const c of chunks) {
        const data = repo.packs.read(c.id, ObjectType.blob).data
        h.update(data)
        writeAll(fd, data)
      }
      if (h.digest().toString('hex') !== e.id) {
        throw new VeloError('ERR_VELO_CORRUPT', `file ${path} (${e.id}) failed verification`, {hint: 'run velo fsck'})
      }
    }
  } catch (err) {
    throw fsError(err, path, 'writing')
  } finally {
    closeSync(fd)
  }
}
