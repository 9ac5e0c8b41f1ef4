/**
 * The merged view of a mount: a snapshot's tree (read-only lower layer) under a copy-on-write upper
 * directory (Layer). Pure model of the file operations, independent of FUSE: paths are relative to
 * the mount root ('' is the root, no leading slash), failures are FsErrors carrying an errno.
 *
 * Rules (those of overlayfs, with aufs-style markers on disk, see Layer.ts):
 * - a name in an upper directory hides the lower entry of the same name; a whiteout hides it too;
 * - an upper directory shows the lower directory at its position, unless it is opaque (then none)
 *   or redirected (then the lower directory it was renamed from);
 * - the first change to a lower file copies it up (whole, or the part a truncate keeps); a change
 *   to a lower directory creates the upper directory; renaming a directory is O(1) (a redirect).
 * Metadata operations on the upper directory are synchronous (it is a plain local directory, never
 * this mount); file data is read and written asynchronously.
 */
import {promises as fsp, fdatasync, ftruncate, read as fsRead, write as fsWrite, linkSync, lstatSync, mkdirSync, openSync, readlinkSync, renameSync, rmSync, statfsSync, symlinkSync, unlinkSync, utimesSync, chmodSync, writeFileSync, constants as fsc} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import type {TreeEntry} from '../objects/tree.js'
import type {Oid} from '../objects/oid.js'
import {FdCache} from './FdCache.js'
import {fsErr} from './FsError.js'
import {OPAQUE_MARKER, REDIRECT_MARKER, UpperDir, WH_PREFIX, isMarkerName, type Layer, type UpperChild} from './Layer.js'
import type {LowerContent} from './LowerContent.js'
import type {LowerTree} from './LowerTree.js'

export interface OverlayOptions {
  lower: LowerTree
  content: LowerContent
  /** The upper layer; absent for a read-only mount of the snapshot alone. */
  layer?: Layer
  readOnly?: boolean
  uid: number
  gid: number
  /** Time shown for lower entries (ms since the epoch): the snapshot's time. */
  time: number
  /** Called with the path of every file read or written (the access trace keeps the first). */
  onAccess?: (path: string) => void
}

export interface Attr {
  mode: number
  size: number
  nlink: number
  uid: number
  gid: number
  atime: number
  mtime: number
  ctime: number
  blocks: number
  blksize: number
}

export interface StatFs {
  bsize: number
  frsize: number
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
  favail: number
  namemax: number
}

type Kind = 'file' | 'exec' | 'symlink' | 'dir'

/** A resolved path. */
interface Node {
  rel: string
  name: string
  kind: Kind
  /** The upper entry at this path, if any. */
  upper?: UpperChild
  /** The lower entry at this position (hidden when `upper` is set), unless none or whited out. */
  lower?: TreeEntry
  /** For directories: the lower tree whose entries show in it, and that tree's lower path. */
  lowerDir?: Oid
  lowerPath?: string
  /** The parent's upper directory, if it has one. */
  parentUpper?: UpperDir
}

const S_IFREG = 0o100000
const S_IFDIR = 0o040000
const S_IFLNK = 0o120000
const U32 = 0xffffffff

function split(rel: string): [string, string] {
  const i = rel.lastIndexOf('/')
  return i < 0 ? ['', rel] : [rel.slice(0, i), rel.slice(i + 1)]
}

function joinRel(a: string, b: string): string {
  return a === '' ? b : `${a}/${b}`
}

function readAt(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((res, rej) => fsRead(fd, buf, off, len, pos, (e, n) => (e ? rej(e) : res(n))))
}

function writeAt(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((res, rej) => fsWrite(fd, buf, off, len, pos, (e, n) => (e ? rej(e) : res(n))))
}

function checkNewName(name: string): void {
  if (isMarkerName(name)) throw fsErr('EINVAL', `names starting with ${WH_PREFIX} are reserved by the overlay`)
}

export class Overlay {
  private readonly fds = new FdCache()
  private readonly copying = new Map<string, Promise<void>>()
  private readonly upperRoot: UpperDir | undefined
  private tmpSeq = 0

  constructor(private readonly o: OverlayOptions) {
    this.upperRoot = o.layer ? o.layer.scan() : undefined
  }

  get readOnly(): boolean {
    return Boolean(this.o.readOnly || !this.o.layer)
  }

  // ---------------------------------------------------------------- resolution

  private rootNode(): Node {
    return {rel: '', name: '', kind: 'dir', upper: this.upperRoot, lowerDir: this.o.lower.rootId, lowerPath: ''}
  }

  private child(parent: Node, name: string, rel: string): Node | undefined {
    const ud = typeof parent.upper === 'object' ? parent.upper : undefined
    const u = ud?.names.get(name)
    let lower: TreeEntry | undefined
    if (parent.lowerDir !== undefined && !ud?.whiteouts.has(name)) lower = this.o.lower.entry(parent.lowerDir, name)
    if (u === undefined) {
      if (!lower) return undefined
      const isDir = lower.kind === 'dir'
      return {
        rel,
        name,
        kind: lower.kind,
        lower,
        lowerDir: isDir ? lower.id : undefined,
        lowerPath: isDir ? joinRel(parent.lowerPath!, name) : undefined,
        parentUpper: ud,
      }
    }
    if (u === 'f' || u === 'l') return {rel, name, kind: u === 'f' ? 'file' : 'symlink', upper: u, lower, parentUpper: ud}
    let lowerDir: Oid | undefined
    let lowerPath: string | undefined
    if (u.opaque) {
      // nothing below shows
    } else if (u.redirect !== undefined) {
      lowerDir = this.o.lower.dirAt(u.redirect)
      lowerPath = u.redirect
    } else if (lower?.kind === 'dir') {
      lowerDir = lower.id
      lowerPath = joinRel(parent.lowerPath!, name)
    }
    return {rel, name, kind: 'dir', upper: u, lower, lowerDir, lowerPath, parentUpper: ud}
  }

  private lookup(rel: string): Node | undefined {
    let node = this.rootNode()
    if (rel === '') return node
    let start = 0
    for (;;) {
      const slash = rel.indexOf('/', start)
      const end = slash < 0 ? rel.length : slash
      if (node.kind !== 'dir') throw fsErr('ENOTDIR')
      const next = this.child(node, rel.slice(start, end), rel.slice(0, end))
      if (!next) return undefined
      node = next
      if (slash < 0) return node
      start = slash + 1
    }
  }

  private resolve(rel: string): Node {
    const n = this.lookup(rel)
    if (!n) throw fsErr('ENOENT')
    return n
  }

  private resolveDir(rel: string): Node {
    const n = this.resolve(rel)
    if (n.kind !== 'dir') throw fsErr('ENOTDIR')
    return n
  }

  private upperAbs(rel: string): string {
    return rel === '' ? this.o.layer!.root : `${this.o.layer!.root}/${rel}`
  }

  private writable(): void {
    if (this.readOnly) throw fsErr('EROFS')
  }

  // ---------------------------------------------------------------- reading

  private lowerAttr(kind: Kind, size: number): Attr {
    const t = this.o.time
    const mode = kind === 'dir' ? S_IFDIR | 0o755 : kind === 'symlink' ? S_IFLNK | 0o777 : kind === 'exec' ? S_IFREG | 0o755 : S_IFREG | 0o644
    const sz = kind === 'dir' ? 4096 : size
    return {mode, size: sz, nlink: 1, uid: this.o.uid, gid: this.o.gid, atime: t, mtime: t, ctime: t, blocks: Math.ceil(sz / 512), blksize: 4096}
  }

  getattr(rel: string): Attr {
    const n = this.resolve(rel)
    if (n.upper === undefined) return this.lowerAttr(n.kind, n.lower?.size ?? 0)
    const st = lstatSync(this.upperAbs(rel))
    return {
      mode: st.mode,
      size: st.size,
      nlink: st.isDirectory() ? 1 : st.nlink,
      uid: this.o.uid,
      gid: this.o.gid,
      atime: st.atimeMs,
      mtime: st.mtimeMs,
      ctime: st.ctimeMs,
      blocks: st.blocks,
      blksize: st.blksize,
    }
  }

  /** Names in a directory with their file-type bits (for d_type). */
  readdir(rel: string): {names: string[]; modes: number[]} {
    const n = this.resolveDir(rel)
    const ud = typeof n.upper === 'object' ? n.upper : undefined
    const names: string[] = []
    const modes: number[] = []
    if (n.lowerDir !== undefined) {
      for (const e of this.o.lower.entries(n.lowerDir)) {
        if (ud && (ud.whiteouts.has(e.name) || ud.names.has(e.name))) continue
        names.push(e.name)
        modes.push(e.kind === 'dir' ? S_IFDIR : e.kind === 'symlink' ? S_IFLNK : S_IFREG)
      }
    }
    if (ud) {
      for (const [name, u] of ud.names) {
        names.push(name)
        modes.push(u === 'f' ? S_IFREG : u === 'l' ? S_IFLNK : S_IFDIR)
      }
    }
    return {names, modes}
  }

  private isEmptyDir(n: Node): boolean {
    const ud = typeof n.upper === 'object' ? n.upper : undefined
    if (ud && ud.names.size > 0) return false
    if (n.lowerDir === undefined) return true
    for (const e of this.o.lower.entries(n.lowerDir)) if (!ud || !ud.whiteouts.has(e.name)) return false
    return true
  }

  readlink(rel: string): string {
    const n = this.resolve(rel)
    if (n.kind !== 'symlink') throw fsErr('EINVAL')
    return n.upper === 'l' ? readlinkSync(this.upperAbs(rel)) : n.lower!.target!
  }

  /** Reads up to `len` bytes at `offset` into `buf`; lower files synchronously, upper ones not. */
  read(rel: string, buf: Buffer, len: number, offset: number): number | Promise<number> {
    const n = this.resolve(rel)
    if (n.kind === 'dir') throw fsErr('EISDIR')
    this.o.onAccess?.(rel)
    if (n.upper === undefined) return this.o.content.read(n.lower!.id, n.lower!.size, buf, len, offset)
    return this.fds.use(this.upperAbs(rel), false, async (fd) => {
      let got = 0
      while (got < len) {
        const bytesRead = await readAt(fd, buf, got, len - got, offset + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      return got
    })
  }

  statfs(): StatFs {
    const s = statfsSync(this.o.layer ? this.o.layer.root : '/')
    const cap = (x: number): number => Math.min(Number(x), U32)
    return {
      bsize: cap(s.bsize),
      frsize: cap(s.bsize),
      blocks: cap(s.blocks),
      bfree: cap(s.bfree),
      bavail: cap(s.bavail),
      files: cap(s.files),
      ffree: cap(s.ffree),
      favail: cap(s.ffree),
      namemax: 255,
    }
  }

  // ---------------------------------------------------------------- upper-layer bookkeeping

  /** Makes sure directory `rel` exists in the upper layer (creating it and its parents). */
  private upperDir(rel: string): UpperDir {
    if (rel === '') return this.upperRoot!
    const [parentRel, name] = split(rel)
    const parentUd = this.upperDir(parentRel)
    const existing = parentUd.names.get(name)
    if (typeof existing === 'object') return existing
    const n = this.resolve(rel)
    if (n.kind !== 'dir') throw fsErr('ENOTDIR')
    const abs = this.upperAbs(rel)
    mkdirSync(abs, 0o755)
    chmodSync(abs, 0o755)
    utimesSync(abs, this.o.time / 1000, this.o.time / 1000)
    const ud = new UpperDir()
    parentUd.names.set(name, ud)
    return ud
  }

  private addWhiteout(parentRel: string, ud: UpperDir, name: string): void {
    writeFileSync(join(this.upperAbs(parentRel), WH_PREFIX + name), '', {mode: 0o644})
    ud.whiteouts.add(name)
  }

  private dropWhiteout(parentRel: string, ud: UpperDir, name: string): void {
    if (!ud.whiteouts.has(name)) return
    try {
      unlinkSync(join(this.upperAbs(parentRel), WH_PREFIX + name))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    ud.whiteouts.delete(name)
  }

  private setMarker(dirRel: string, ud: UpperDir, opaque: boolean, redirect: string | undefined): void {
    const abs = this.upperAbs(dirRel)
    if (opaque && !ud.opaque) writeFileSync(join(abs, OPAQUE_MARKER), '', {mode: 0o644})
    if (!opaque && ud.opaque) rmSync(join(abs, OPAQUE_MARKER), {force: true})
    if (redirect !== undefined) writeFileSync(join(abs, REDIRECT_MARKER), redirect, {mode: 0o644})
    else if (ud.redirect !== undefined) rmSync(join(abs, REDIRECT_MARKER), {force: true})
    ud.opaque = opaque
    ud.redirect = redirect
  }

  /** True when the lower directory under `parent` has a directory `name` (whited out or not). */
  private lowerHasDir(parent: Node, name: string): boolean {
    return parent.lowerDir !== undefined && this.o.lower.entry(parent.lowerDir, name)?.kind === 'dir'
  }

  private tmpPath(): string {
    return join(this.o.layer!.tmp, `cu-${process.pid}-${++this.tmpSeq}-${randomBytes(3).toString('hex')}`)
  }

  /** Copies file `rel` up from the lower layer (only its first `limit` bytes, if given). */
  private async copyUp(rel: string, limit = Infinity): Promise<Node> {
    for (;;) {
      const n = this.resolve(rel)
      if (n.upper !== undefined || n.kind === 'dir') {
        if (n.kind === 'dir' && n.upper === undefined) this.upperDir(rel)
        return this.resolve(rel)
      }
      if (isMarkerName(n.name)) throw fsErr('EPERM', 'a lower file whose name starts with .wh. cannot be changed')
      const pending = this.copying.get(rel)
      if (pending) {
        await pending.catch(() => undefined)
        continue
      }
      const p = this.copyUpOnce(n, limit)
      this.copying.set(rel, p)
      try {
        await p
      } finally {
        this.copying.delete(rel)
      }
    }
  }

  private async copyUpOnce(n: Node, limit: number): Promise<void> {
    const [parentRel, name] = split(n.rel)
    const lower = n.lower!
    const secs = this.o.time / 1000
    if (n.kind === 'symlink') {
      const ud = this.upperDir(parentRel)
      const abs = this.upperAbs(n.rel)
      symlinkSync(lower.target!, abs)
      ud.names.set(name, 'l')
      return
    }
    this.upperDir(parentRel)
    const tmp = this.tmpPath()
    const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600)
    try {
      let pos = 0
      await this.o.content.forEachChunk(lower.id, lower.size, limit, async (data) => {
        let off = 0
        while (off < data.length) {
          const {bytesWritten} = await fh.write(data, off, data.length - off, pos)
          off += bytesWritten
          pos += bytesWritten
        }
      })
      await fh.chmod(lower.kind === 'exec' ? 0o755 : 0o644)
      await fh.utimes(secs, secs)
    } catch (err) {
      await fh.close()
      rmSync(tmp, {force: true})
      throw err
    }
    await fh.close()
    // The tree may have changed while the data was copied: install the copy only if the path
    // still shows the same lower file.
    let now: Node | undefined
    try {
      now = this.lookup(n.rel)
    } catch {
      now = undefined // a parent became a file meanwhile
    }
    if (!now || now.upper !== undefined || now.lower?.id !== lower.id || now.lower.kind !== lower.kind) {
      rmSync(tmp, {force: true})
      return
    }
    const ud = this.upperDir(parentRel)
    renameSync(tmp, this.upperAbs(n.rel))
    ud.names.set(name, 'f')
  }

  /** Removes whatever the upper layer has at `n` (which is being replaced or deleted). */
  private removeUpper(n: Node): void {
    if (n.upper === undefined) return
    const abs = this.upperAbs(n.rel)
    if (typeof n.upper === 'object') rmSync(abs, {recursive: true, force: true})
    else unlinkSync(abs)
    this.fds.forget(abs)
    n.parentUpper!.names.delete(n.name)
  }

  // ---------------------------------------------------------------- writing

  async write(rel: string, buf: Buffer, len: number, offset: number): Promise<number> {
    this.writable()
    let n = this.resolve(rel)
    if (n.kind === 'dir') throw fsErr('EISDIR')
    this.o.onAccess?.(rel)
    if (n.upper === undefined) n = await this.copyUp(rel)
    return this.fds.use(this.upperAbs(n.rel), true, async (fd) => {
      let done = 0
      while (done < len) {
        done += await writeAt(fd, buf, done, len - done, offset + done)
      }
      return done
    })
  }

  /** Creates an empty file (O_CREAT of a name that does not exist). */
  create(rel: string, mode: number): void {
    this.writable()
    const [parentRel, name] = split(rel)
    checkNewName(name)
    const parent = this.resolveDir(parentRel)
    if (this.child(parent, name, rel)) throw fsErr('EEXIST')
    const ud = this.upperDir(parentRel)
    this.dropWhiteout(parentRel, ud, name)
    const abs = this.upperAbs(rel)
    const fd = openSync(abs, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode & 0o7777)
    ud.names.set(name, 'f')
    this.fds.adopt(abs, fd, true)
    // open() applied this process's umask; the kernel already applied the caller's.
    chmodSync(abs, mode & 0o7777)
  }

  mkdir(rel: string, mode: number): void {
    this.writable()
    const [parentRel, name] = split(rel)
    checkNewName(name)
    const parent = this.resolveDir(parentRel)
    if (this.child(parent, name, rel)) throw fsErr('EEXIST')
    const ud = this.upperDir(parentRel)
    const opaque = this.lowerHasDir(parent, name)
    this.dropWhiteout(parentRel, ud, name)
    const abs = this.upperAbs(rel)
    mkdirSync(abs, mode & 0o7777)
    chmodSync(abs, mode & 0o7777)
    const d = new UpperDir()
    ud.names.set(name, d)
    if (opaque) this.setMarker(rel, d, true, undefined)
  }

  symlink(target: string, rel: string): void {
    this.writable()
    const [parentRel, name] = split(rel)
    checkNewName(name)
    const parent = this.resolveDir(parentRel)
    if (this.child(parent, name, rel)) throw fsErr('EEXIST')
    const ud = this.upperDir(parentRel)
    this.dropWhiteout(parentRel, ud, name)
    symlinkSync(target, this.upperAbs(rel))
    ud.names.set(name, 'l')
  }

  async link(srcRel: string, dstRel: string): Promise<void> {
    this.writable()
    const [dstParentRel, name] = split(dstRel)
    checkNewName(name)
    const src = this.resolve(srcRel)
    if (src.kind === 'dir') throw fsErr('EPERM')
    const parent = this.resolveDir(dstParentRel)
    if (this.child(parent, name, dstRel)) throw fsErr('EEXIST')
    const s = await this.copyUp(srcRel)
    if (this.lookup(dstRel)) throw fsErr('EEXIST')
    const ud = this.upperDir(dstParentRel)
    this.dropWhiteout(dstParentRel, ud, name)
    linkSync(this.upperAbs(s.rel), this.upperAbs(dstRel))
    ud.names.set(name, s.upper === 'l' ? 'l' : 'f')
  }

  unlink(rel: string): void {
    this.writable()
    const n = this.resolve(rel)
    if (n.kind === 'dir') throw fsErr('EISDIR')
    const [parentRel] = split(rel)
    this.removeUpper(n)
    if (n.lower) this.addWhiteout(parentRel, this.upperDir(parentRel), n.name)
  }

  rmdir(rel: string): void {
    this.writable()
    if (rel === '') throw fsErr('EBUSY')
    const n = this.resolveDir(rel)
    if (!this.isEmptyDir(n)) throw fsErr('ENOTEMPTY')
    const [parentRel] = split(rel)
    this.removeUpper(n)
    if (n.lower) this.addWhiteout(parentRel, this.upperDir(parentRel), n.name)
  }

  async rename(srcRel: string, dstRel: string): Promise<void> {
    this.writable()
    if (srcRel === dstRel) return
    if (srcRel === '' || dstRel === '') throw fsErr('EBUSY')
    if (dstRel.startsWith(srcRel + '/')) throw fsErr('EINVAL')
    const [dstParentRel, dstName] = split(dstRel)
    checkNewName(dstName)
    let src = this.resolve(srcRel)
    // Files are copied up before anything changes (the only step that waits).
    if (src.kind !== 'dir' && src.upper === undefined) {
      src = await this.copyUp(srcRel)
    }
    const dstParent = this.resolveDir(dstParentRel)
    const dst = this.child(dstParent, dstName, dstRel)
    if (dst) {
      if (src.kind === 'dir') {
        if (dst.kind !== 'dir') throw fsErr('ENOTDIR')
        if (!this.isEmptyDir(dst)) throw fsErr('ENOTEMPTY')
      } else if (dst.kind === 'dir') throw fsErr('EISDIR')
    }
    const [srcParentRel, srcName] = split(srcRel)
    const dstUd = this.upperDir(dstParentRel)
    const srcUd = this.upperDir(srcParentRel)
    if (dst) this.removeUpper(this.resolve(dstRel))
    this.dropWhiteout(dstParentRel, dstUd, dstName)
    const dstAbs = this.upperAbs(dstRel)
    if (src.kind !== 'dir') {
      const srcAbs = this.upperAbs(srcRel)
      renameSync(srcAbs, dstAbs)
      this.fds.rename(srcAbs, dstAbs)
      srcUd.names.delete(srcName)
      dstUd.names.set(dstName, src.upper === 'l' ? 'l' : 'f')
    } else {
      // The directory keeps showing the lower entries it showed before (a redirect), and none of
      // those that were at its new position (opaque).
      const redirect = src.lowerDir !== undefined ? src.lowerPath : undefined
      const opaque = redirect === undefined && this.lowerHasDir(dstParent, dstName)
      let d: UpperDir
      if (typeof src.upper === 'object') {
        const srcAbs = this.upperAbs(srcRel)
        renameSync(srcAbs, dstAbs)
        this.fds.rename(srcAbs, dstAbs)
        d = src.upper
        srcUd.names.delete(srcName)
      } else {
        mkdirSync(dstAbs, 0o755)
        chmodSync(dstAbs, 0o755)
        utimesSync(dstAbs, this.o.time / 1000, this.o.time / 1000)
        d = new UpperDir()
      }
      dstUd.names.set(dstName, d)
      this.setMarker(dstRel, d, opaque, redirect)
    }
    if (src.lower) this.addWhiteout(srcParentRel, srcUd, srcName)
  }

  async chmod(rel: string, mode: number): Promise<void> {
    this.writable()
    const n = this.resolve(rel)
    if (n.upper === undefined) {
      if ((mode & 0o7777) === (this.lowerAttr(n.kind, 0).mode & 0o7777)) return
      if (n.kind === 'symlink') return
    }
    const u = await this.copyUp(rel)
    chmodSync(this.upperAbs(u.rel), mode & 0o7777)
  }

  async truncate(rel: string, size: number): Promise<void> {
    this.writable()
    let n = this.resolve(rel)
    if (n.kind === 'dir') throw fsErr('EISDIR')
    if (n.upper === undefined) n = await this.copyUp(rel, size)
    const abs = this.upperAbs(n.rel)
    await this.fds.use(abs, true, (fd) => new Promise<void>((res, rej) => ftruncate(fd, size, (e) => (e ? rej(e) : res()))))
  }

  /**
   * Sets times. fuse-native 2.2.6 passes the access time for both and turns UTIME_NOW/UTIME_OMIT
   * into about 1 s after the epoch; such values mean "now", any other is used for both times.
   */
  async utimens(rel: string, atimeMs: number, mtimeMs: number): Promise<void> {
    this.writable()
    const n = await this.copyUp(rel)
    const now = Date.now()
    const a = atimeMs < 2000 ? now : atimeMs
    const m = mtimeMs < 2000 ? now : mtimeMs
    if (n.kind === 'symlink') return
    utimesSync(this.upperAbs(n.rel), a / 1000, m / 1000)
  }

  async fsync(rel: string): Promise<void> {
    if (this.readOnly) return
    const n = this.lookup(rel)
    if (!n || n.upper !== 'f') return
    await this.fds.use(this.upperAbs(rel), false, (fd) => new Promise<void>((res, rej) => fdatasync(fd, (e) => (e ? rej(e) : res()))))
  }

  close(): void {
    this.fds.closeAll()
  }
}

