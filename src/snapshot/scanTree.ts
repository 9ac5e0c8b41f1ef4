/**
 * Walks a directory (synchronously: fastest in Node for this workload), reusing the stat cache,
 * sends new or changed files to the ingest pool, then builds the Merkle trees bottom-up.
 */
import {lstatSync, readdirSync, readlinkSync, type Stats} from 'node:fs'
import {isMainThread} from 'node:worker_threads'
import {fastLstat, isDir, isFile, isSymlink, specialKind, type RawStat} from '../util/fastLstat.js'
import {hash} from '../objects/hash.js'
import {compareNames} from '../objects/names.js'
import type {Oid} from '../objects/oid.js'
import {encodeTree, type EntryKind, type TreeEntry} from '../objects/tree.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import type {IngestPool} from './IngestPool.js'
import {makeEntry, type CachedDir, type CachedEntry, type RawEntries, type StatCache} from './statCache.js'

export interface ScanOptions {
  root: string
  cache?: StatCache
  pool: IngestPool
  has: (id: Uint8Array) => boolean
  /** Stores a tree object; absent for a dry run. */
  writeTree?: (id: Uint8Array, bytes: Buffer) => void
  skipUnreadable?: boolean
  onWarning?: (msg: string) => void
  onProgress?: (p: ScanProgress) => void
}

export interface ScanProgress {
  phase: 'scan' | 'hash' | 'trees'
  files: number
  bytes: number
  hashedFiles: number
  hashedBytes: number
  /** Files (and their bytes) sent to be hashed so far: the total of the hash phase. */
  queuedFiles: number
  queuedBytes: number
}

export interface ScanResult {
  tree: Oid
  size: number
  files: number
  dirs: number
  symlinks: number
  hashedFiles: number
  hashedBytes: number
  skipped: {path: string; reason: string}[]
  cache: StatCache
  /** False when the tree is exactly what the stat cache described (nothing to rewrite). */
  changed: boolean
}

type Ent = CachedEntry & {dir: DirNode | undefined}

interface DirNode {
  rel: string
  abs: string
  ino: number
  mtimeMs: number
  ctimeMs: number
  entries: Ent[]
  cached?: CachedDir
  dirty: boolean
  /** Some entry could not be read (skipped): list this directory again next time. */
  hadFailures?: boolean
  treeId?: Uint8Array
  size: number
  /**
   * Set when every entry matched the cache without being decoded (walkUnchanged): `entries` then
   * holds the subdirectories only, and this is the cached directory to take the rest from.
   */
  lazy?: CachedDir
}

function idHex(e: CachedEntry): Oid {
  return Buffer.from(e.idBuf!.buffer, e.idBuf!.byteOffset + e.idOff, 32).toString('hex') as Oid
}

function idBytes(e: CachedEntry): Uint8Array {
  return e.idBuf!.subarray(e.idOff, e.idOff + 32)
}

const RACY_MS = 1000
const KIND_FILE = 0
const KIND_EXEC = 1
const KIND_SYMLINK = 2

/** Read position of readVarint (the cache was validated when decoded). */
let rpos = 0
function readVarint(buf: Buffer): number {
  let n = 0
  let mul = 1
  for (;;) {
    const b = buf[rpos++]
    n += (b & 0x7f) * mul
    if (b < 0x80) return n
    mul *= 128
  }
}

export async function scanTree(o: ScanOptions): Promise<ScanResult> {
  const startedAt = Date.now()
  const racyLimit = o.cache ? o.cache.writtenAt - RACY_MS : -Infinity
  const cacheDirs = o.cache?.dirs
  const skipped: ScanResult['skipped'] = []
  const errors: {path: string; code: string; message: string}[] = []
  const progress: ScanProgress = {phase: 'scan', files: 0, bytes: 0, hashedFiles: 0, hashedBytes: 0, queuedFiles: 0, queuedBytes: 0}
  let dirCount = 0
  let symlinks = 0
  let lastProgress = 0

  const report = (): void => {
    if (!o.onProgress) return
    const now = Date.now()
    if (now - lastProgress < 100) return
    lastProgress = now
    progress.hashedFiles = o.pool.hashedFiles
    progress.hashedBytes = o.pool.hashedBytes
    o.onProgress({...progress})
  }

  const fail = (path: string, code: string, message: string): void => {
    // Repository-side failures (ERR_VELO_DISK_FULL...) are no reason to leave a file out.
    if (o.skipUnreadable && !code.startsWith('ERR_VELO_')) {
      skipped.push({path, reason: message})
      o.onWarning?.(`skipped ${path}: ${message}`)
    } else errors.push({path, code, message})
  }

  /** Entries waiting for their content id, by file index in the pool. */
  const queued: Ent[] = []
  let collected = 0
  const queue = (ent: Ent, abs: string, node: DirNode): void => {
    node.dirty = true
    progress.queuedFiles++
    progress.queuedBytes += ent.size
    queued[o.pool.add(abs, ent.size)] = ent
  }
  /** Waits for the queued files and gives their entries the ids (or failures). */
  const drain = async (): Promise<void> => {
    await o.pool.drain(report)
    for (let i = collected; i < queued.length; i++) {
      const ent = queued[i]
      const err = o.pool.error(i)
      if (err) {
        ent.failed = true
        fail(o.pool.path(i), err.code, err.message)
      } else {
        ent.idBuf = o.pool.idBuffer(i)
        ent.idOff = o.pool.idOffset(i)
        ent.size = o.pool.size(i)
      }
    }
    collected = queued.length
    progress.hashedFiles = o.pool.hashedFiles
    progress.hashedBytes = o.pool.hashedBytes
  }

  // The walk is synchronous: nothing else runs on this thread while it is in another directory.
  let homeDir: string | undefined
  const enterDir = (dir: string): boolean => {
    if (!isMainThread) return false
    try {
      homeDir ??= process.cwd()
      process.chdir(dir)
      return true
    } catch {
      return false
    }
  }
  const leaveDirs = (): void => {
    if (homeDir !== undefined) process.chdir(homeDir)
    homeDir = undefined
  }

  // The common case of a re-snapshot: a directory whose listing is cached and whose entries all
  // still match their cached lstat fields. Compares with the encoded cache, allocating nothing per
  // entry; on the first difference it gives up and the directory is walked the general way.
  const subdirs: {name: string; abs: string; ino: number; mtimeMs: number; ctimeMs: number}[] = []
  const walkUnchanged = (node: DirNode, c: CachedDir, raw: RawEntries): boolean => {
    const buf = raw.buf
    // lstat by name from inside the directory: the kernel then resolves one component, not the
    // whole path (about a quarter of the walk's system time here)
    // (a chdir costs about as much as four such lookups: small directories are looked up whole)
    const relative = raw.count >= 8 && enterDir(node.abs)
    const base = node.abs === '/' ? '' : node.abs
    rpos = raw.start
    const first = subdirs.length
    let files = 0
    let bytes = 0
    let links = 0
    let ok = true
    for (let j = 0; j < raw.count; j++) {
      const kind = buf[rpos++]
      const nlen = readVarint(buf)
      const name = buf.toString('utf8', rpos, rpos + nlen)
      rpos += nlen
      const size = readVarint(buf)
      const ino = buf.readDoubleLE(rpos)
      const mtimeMs = buf.readDoubleLE(rpos + 8)
      const ctimeMs = buf.readDoubleLE(rpos + 16)
      rpos += 24
      if (kind === KIND_SYMLINK) {
        const tlen = readVarint(buf)
        rpos += tlen
      } else rpos += 32
      if (mtimeMs >= racyLimit) {
        ok = false
        break
      }
      let st: RawStat | undefined
      try {
        st = fastLstat(relative ? name : `${base}/${name}`)
      } catch {
        st = undefined
      }
      if (!st || st.ino !== ino || st.mtimeMs !== mtimeMs || st.ctimeMs !== ctimeMs) {
        ok = false
        break
      }
      const mode = st.mode
      if (kind === KIND_FILE || kind === KIND_EXEC) {
        if (!isFile(mode) || (mode & 0o100 ? KIND_EXEC : KIND_FILE) !== kind || st.size !== size) {
          ok = false
          break
        }
        files++
        bytes += size
      } else if (kind === KIND_SYMLINK) {
        if (!isSymlink(mode)) {
          ok = false
          break
        }
        links++
      } else {
        if (!isDir(mode)) {
          ok = false
          break
        }
        subdirs.push({name, abs: `${base}/${name}`, ino, mtimeMs, ctimeMs})
      }
    }
    if (!ok) {
      subdirs.length = first
      return false
    }
    const mine = subdirs.splice(first)
    progress.files += files
    progress.bytes += bytes
    symlinks += links
    node.lazy = c
    for (const d of mine) {
      const rel = node.rel === '' ? d.name : `${node.rel}/${d.name}`
      const child: DirNode = {rel, abs: d.abs, ino: d.ino, mtimeMs: d.mtimeMs, ctimeMs: d.ctimeMs, entries: [], cached: cacheDirs?.get(rel), dirty: false, size: 0}
      const ent = makeEntry(d.name, 'dir', 0, d.ino, d.mtimeMs, d.ctimeMs) as Ent
      ent.dir = child
      node.entries.push(ent)
      walk(child)
    }
    report()
    return true
  }

  /** Gives a lazily walked directory its full entry list (cached entries plus the walked subdirectories). */
  const materialize = (node: DirNode): void => {
    const c = node.lazy
    if (!c) return
    const walked = new Map(node.entries.map((e) => [e.name, e]))
    node.entries = c.entries.map((e) => (e.kind === 'dir' ? walked.get(e.name)! : (e as Ent)))
    node.lazy = undefined
  }

  const walk = (node: DirNode): void => {
    dirCount++
    const c = node.cached
    let names: string[]
    let fromCache = false
    // The listing is reused only when the directory is unchanged and was not changing when cached
    // (racy, as for files); a directory with skipped entries is always listed again (mtime -1).
    if (c && c.ino === node.ino && c.mtimeMs === node.mtimeMs && c.ctimeMs === node.ctimeMs && c.mtimeMs < racyLimit) {
      if (c.raw && walkUnchanged(node, c, c.raw)) return
      names = c.entries.map((e) => e.name)
      fromCache = true
    } else {
      node.dirty = true
      try {
        names = readdirSync(node.abs)
      } catch (err) {
        if (isErrno(err, 'EACCES', 'EPERM', 'EIO')) {
          fail(node.abs, (err as NodeJS.ErrnoException).code!, `cannot list directory: ${(err as Error).message}`)
          node.hadFailures = true
          names = []
        } else throw fsError(err, node.abs, 'listing')
      }
      names.sort(compareNames)
    }
    const byName = c && !fromCache ? new Map(c.entries.map((e) => [e.name, e])) : undefined
    for (let i = 0; i < names.length; i++) {
      const name = names[i]
      const abs = node.abs === '/' ? `/${name}` : `${node.abs}/${name}`
      let st: RawStat | undefined
      try {
        st = fastLstat(abs)
      } catch (err) {
        if (isErrno(err, 'EACCES', 'EPERM', 'EIO')) {
          fail(abs, (err as NodeJS.ErrnoException).code!, (err as Error).message)
          node.hadFailures = true
          node.dirty = true
          continue
        }
        throw fsError(err, abs, 'reading')
      }
      if (!st) {
        node.dirty = true
        if (name.includes('\uFFFD')) {
          // Node lists a name that is not valid UTF-8 with U+FFFD, which then names nothing.
          fail(abs, 'EILSEQ', 'the file name is not valid UTF-8 (velo stores UTF-8 names only)')
          node.hadFailures = true
        } else o.onWarning?.(`${abs} vanished while the directory was read`)
        continue
      }
      const ce: CachedEntry | undefined = fromCache ? c!.entries[i] : byName?.get(name)
      const mode = st.mode
      if (isDir(mode)) {
        const rel = node.rel === '' ? name : `${node.rel}/${name}`
        const child: DirNode = {rel, abs, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, entries: [], cached: cacheDirs?.get(rel), dirty: false, size: 0}
        if (!ce || ce.kind !== 'dir') node.dirty = true
        const ent = makeEntry(name, 'dir', 0, st.ino, st.mtimeMs, st.ctimeMs) as Ent
        ent.dir = child
        node.entries.push(ent)
        walk(child)
      } else if (isFile(mode)) {
        const kind: EntryKind = mode & 0o100 ? 'exec' : 'file'
        progress.files++
        progress.bytes += st.size
        if (ce && ce.kind === kind && ce.ino === st.ino && ce.size === st.size && ce.mtimeMs === st.mtimeMs && ce.ctimeMs === st.ctimeMs && ce.mtimeMs < racyLimit) {
          node.entries.push(ce as Ent) // unchanged: reuse the cached entry as it is
        } else {
          const ent = makeEntry(name, kind, st.size, st.ino, st.mtimeMs, st.ctimeMs) as Ent
          node.entries.push(ent)
          queue(ent, abs, node)
        }
      } else if (isSymlink(mode)) {
        symlinks++
        let target: string
        if (ce && ce.kind === 'symlink' && ce.ino === st.ino && ce.mtimeMs === st.mtimeMs && ce.ctimeMs === st.ctimeMs && ce.mtimeMs < racyLimit) {
          node.entries.push(ce as Ent)
          if ((i & 255) === 0) report()
          continue
        } else {
          try {
            target = readlinkSync(abs)
          } catch (err) {
            fail(abs, (err as NodeJS.ErrnoException).code ?? 'EIO', (err as Error).message)
            node.hadFailures = true
            node.dirty = true
            continue
          }
          if (!ce || ce.kind !== 'symlink' || ce.target !== target) node.dirty = true
        }
        const ent = makeEntry(name, 'symlink', Buffer.byteLength(target), st.ino, st.mtimeMs, st.ctimeMs) as Ent
        ent.target = target
        node.entries.push(ent)
      } else {
        node.dirty = true
        o.onWarning?.(`skipped ${abs}: ${specialKind(mode)} files cannot be stored`)
      }
      if ((i & 255) === 0) report()
    }
    if (fromCache && names.length !== c!.entries.length) node.dirty = true
  }

  let rootSt: Stats
  try {
    rootSt = lstatSync(o.root)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new VeloError('ERR_VELO_NOT_FOUND', `${o.root} does not exist`, {hint: 'check the path'})
    throw fsError(err, o.root, 'reading')
  }
  if (!rootSt.isDirectory()) {
    throw new VeloError('ERR_VELO_USAGE', `${o.root} is not a directory`, {hint: 'velo snapshot takes a directory'})
  }
  const root: DirNode = {rel: '', abs: o.root, ino: rootSt.ino, mtimeMs: rootSt.mtimeMs, ctimeMs: rootSt.ctimeMs, entries: [], cached: cacheDirs?.get(''), dirty: false, size: 0}
  try {
    walk(root)
  } finally {
    leaveDirs()
  }
  progress.phase = 'hash'
  report()
  await drain()
  if (errors.length > 0) throw unreadable(errors)

  // Build trees bottom-up. Ids reused from the cache in a rewritten directory must still be in the
  // repository (a gc may have removed them); missing ones are re-read once.
  progress.phase = 'trees'
  let rehash: {ent: Ent; node: DirNode}[] = []
  const build = (node: DirNode): void => {
    let size = 0
    for (const e of node.entries) {
      if (e.dir) {
        build(e.dir)
        e.idBuf = e.dir.treeId
        e.idOff = 0
        e.size = e.dir.size
        if (e.dir.dirty) node.dirty = true
      }
    }
    if (!node.dirty && node.cached && o.has(node.cached.treeId)) {
      node.treeId = node.cached.treeId
      node.size = node.cached.size
      return
    }
    node.dirty = true
    materialize(node)
    const tes: TreeEntry[] = []
    for (const e of node.entries) {
      if (e.failed) continue
      if (e.reused && e.kind !== 'symlink' && e.kind !== 'dir' && !o.has(idBytes(e))) {
        rehash.push({ent: e, node})
        continue
      }
      if (e.kind !== 'symlink') size += e.size
      tes.push({name: e.name, kind: e.kind, size: e.size, id: e.kind === 'symlink' ? ('' as Oid) : idHex(e), target: e.target})
    }
    const bytes = encodeTree(tes)
    const id = hash(bytes)
    node.treeId = id
    node.size = size
    if (o.writeTree && !o.has(id)) o.writeTree(id, bytes)
  }
  build(root)
  if (rehash.length > 0) {
    const again = rehash
    rehash = []
    for (const {ent, node} of again) {
      // The cached entry object is shared with the old cache: give the walk a fresh one.
      const fresh = makeEntry(ent.name, ent.kind, ent.size, ent.ino, ent.mtimeMs, ent.ctimeMs) as Ent
      node.entries[node.entries.indexOf(ent)] = fresh
      queue(fresh, `${node.abs}/${ent.name}`, node)
    }
    await drain()
    if (errors.length > 0) throw unreadable(errors)
    const reset = (n: DirNode): void => {
      n.dirty = true
      for (const e of n.entries) if (e.dir) reset(e.dir)
    }
    reset(root)
    build(root)
  }

  const changed = root.dirty || progress.hashedFiles > 0
  const cache: StatCache = {writtenAt: startedAt, dirs: new Map()}
  if (changed || !o.cache) {
    const collect = (node: DirNode): void => {
      if (node.lazy) {
        // Unchanged: the cached directory as it was (its entries stay encoded).
        cache.dirs.set(node.rel, node.lazy)
        for (const e of node.entries) collect(e.dir!)
        return
      }
      const entries = node.entries.some((e) => e.failed) ? node.entries.filter((e) => !e.failed) : node.entries
      const relist = node.hadFailures || entries !== node.entries
      cache.dirs.set(node.rel, {rel: node.rel, ino: node.ino, mtimeMs: relist ? -1 : node.mtimeMs, ctimeMs: node.ctimeMs, treeId: node.treeId!, size: node.size, entries})
      for (const e of entries) if (e.dir) collect(e.dir)
    }
    collect(root)
  }
  o.onProgress?.({...progress})
  return {
    tree: Buffer.from(root.treeId!).toString('hex') as Oid,
    size: root.size,
    files: progress.files,
    dirs: dirCount,
    symlinks,
    hashedFiles: progress.hashedFiles,
    hashedBytes: progress.hashedBytes,
    skipped,
    cache,
    changed,
  }
}

function unreadable(errors: {path: string; code: string; message: string}[]): VeloError {
  const repoSide = errors.find((e) => e.code === 'ERR_VELO_DISK_FULL' || e.code === 'ERR_VELO_PERMISSION')
  if (repoSide) return new VeloError(repoSide.code as 'ERR_VELO_DISK_FULL', repoSide.message, {hint: 'free some space (or fix the repository\'s permissions) and run the snapshot again; nothing already stored was changed'})
  const first = errors[0]
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''
  const changed = first.code === 'ECHANGED'
  return new VeloError(changed ? 'ERR_VELO_CHANGED_WHILE_READING' : 'ERR_VELO_UNREADABLE', changed ? `${first.message}${more}` : `cannot read ${first.path}: ${first.message}${more}`, {
    hint: changed ? 'run the snapshot again when the tree is not being written to' : 'fix the permissions, or pass --skip-unreadable to leave such files out (exit code 3)',
    data: {errors: errors.slice(0, 20)},
  })
}
