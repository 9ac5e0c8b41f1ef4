/**
 * Writes a snapshot's tree into a directory as real files: exec bits, symlinks, empty files and
 * directories exactly as snapshotted (files 0644 or 0755, directories 0755). Never follows a
 * symlink while writing and never writes outside the target: names were validated when the trees
 * were decoded, files are created with O_EXCL|O_NOFOLLOW, and existing entries are replaced only
 * with --force, after lstat shows what they are.
 */
import {
  chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync,
} from 'node:fs'
import type {Oid} from '../objects/oid.js'
import type {TreeEntry} from '../objects/tree.js'
import type {Repository} from '../repo/Repository.js'
import type {Location} from '../store/PackStore.js'
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {VeloError, fsError, type ErrorCode} from '../util/errors.js'
import {writeJobs, type RestoreJobs} from './restoreWorker.js'

export interface RestoreOptions {
  force?: boolean
  threads?: number
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
  loc?: Location
}


export async function restoreTree(repo: Repository, tree: Oid, dest: string, o: RestoreOptions = {}): Promise<RestoreResult> {
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
            if (cur.isDirectory()) {
              exists = true
              if ((cur.mode & 0o7777) !== 0o755) chmodSync(p, 0o755)
            }
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
      j.loc = loc
      j.order = loc?.record.blockOffset ?? 0
      j.pack = loc?.pack.name ?? ''
    }
    jobs.sort((a, b) => (a.pack < b.pack ? -1 : a.pack > b.pack ? 1 : a.order - b.order))
    await writeFiles(repo, jobs, o.threads)
    for (const j of jobs) {
      result.files++
      result.bytes += j.entry.size
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

/** Below this many files the main thread writes them itself (a worker costs 60-90 ms to start). */
const PARALLEL_MIN_FILES = 2000

function toJobs(repo: Repository, list: FileJob[]): RestoreJobs {
  const r: RestoreJobs = {packsDir: repo.packsDir, paths: [], ids: [], sizes: [], exec: [], packPaths: [], blockOffsets: [], blockLengths: [], offsets: [], types: []}
  for (const j of list) {
    const loc = j.loc
    r.paths.push(j.path)
    r.ids.push(j.entry.id)
    r.sizes.push(j.entry.size)
    r.exec.push(j.entry.kind === 'exec')
    r.packPaths.push(loc?.pack.path ?? '')
    r.blockOffsets.push(loc?.record.blockOffset ?? 0)
    r.blockLengths.push(loc?.record.blockLength ?? 0)
    r.offsets.push(loc?.record.offset ?? 0)
    r.types.push(loc?.record.type ?? 0)
  }
  return r
}

async function writeFiles(repo: Repository, jobs: FileJob[], threads?: number): Promise<void> {
  const n = Math.max(1, Math.min(threads ?? (Number(process.env.VELO_THREADS) || availableParallelism()), 8))
  if (n === 1 || jobs.length < PARALLEL_MIN_FILES) {
    writeJobs(toJobs(repo, jobs))
    return
  }
  // Contiguous ranges of about equal bytes, so each worker decompresses its own blocks once.
  const total = jobs.reduce((a, j) => a + j.entry.size + 4096, 0)
  const ranges: FileJob[][] = []
  let cur: FileJob[] = []
  let acc = 0
  for (const j of jobs) {
    cur.push(j)
    acc += j.entry.size + 4096
    if (acc >= (total / n) * (ranges.length + 1) && ranges.length < n - 1) {
      ranges.push(cur)
      cur = []
    }
  }
  ranges.push(cur)
  await Promise.all(
    ranges.map(
      (r) =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(workerUrl(), {workerData: toJobs(repo, r)})
          w.on('message', (m: {t: string; code?: ErrorCode; message?: string; hint?: string}) => {
            if (m.t === 'done') resolve()
            else if (m.t === 'error') reject(m.code ? new VeloError(m.code, m.message!, {hint: m.hint}) : new Error(m.message))
          })
          w.on('error', reject)
          w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`restore worker exited with ${code}`))))
        }),
    ),
  )
}

function workerUrl(): URL {
  const u = new URL('./restoreWorker.js', import.meta.url)
  if (existsSync(fileURLToPath(u))) return u
  return new URL(fileURLToPath(u).replace(/\/src\/restore\//, '/dist/restore/'), 'file://')
}
