/**
 * The stat cache of one snapshotted directory: for every directory and entry, the lstat fields
 * that reveal a change (inode, size, mtime, ctime) and the id computed for it. A file whose fields
 * are unchanged is not read again; a directory whose own fields are unchanged is not listed again
 * (creating, deleting or renaming an entry changes its directory's mtime).
 * Layout (docs/format.md, "stat cache"): "VSC1" f64 writtenAt, varint dirCount, then per directory
 *   string rel, f64 ino, f64 mtimeMs, f64 ctimeMs, 32-byte tree id, varint size, varint count, and
 *   per entry: u8 kind, string name, varint size, f64 ino, f64 mtimeMs, f64 ctimeMs,
 *   then a string target (symlink) or a 32-byte id. Strings are varint length + UTF-8.
 * Numbers are little-endian. The file is a cache: any damage just means a full re-read.
 */
import {ByteReader, varintLength, writeVarint} from '../util/varint.js'
import type {EntryKind} from '../objects/tree.js'

/**
 * One entry. The same shape is used for the walker's live entries (fields after `target`), so
 * that unchanged entries are reused as they are, without allocation.
 */
export interface CachedEntry {
  name: string
  kind: EntryKind
  size: number
  ino: number
  mtimeMs: number
  ctimeMs: number
  /** The id is idBuf[idOff, idOff + 32) (file, exec, dir); ids share one buffer to spare allocations. */
  idBuf: Uint8Array | undefined
  idOff: number
  target: string | undefined
  dir: unknown
  failed: boolean
  reused: boolean
}

export function makeEntry(name: string, kind: EntryKind, size: number, ino: number, mtimeMs: number, ctimeMs: number): CachedEntry {
  return {name, kind, size, ino, mtimeMs, ctimeMs, idBuf: undefined, idOff: 0, target: undefined, dir: undefined, failed: false, reused: false}
}

export interface CachedDir {
  rel: string
  ino: number
  mtimeMs: number
  ctimeMs: number
  treeId: Uint8Array
  size: number
  entries: CachedEntry[]
  /**
   * Set on directories read from a cache file: their entries still encoded, so that a walk that
   * finds them unchanged compares lstat fields with the bytes and allocates nothing per entry
   * (`entries` decodes them on first use), and a cache rewrite copies the bytes as they are.
   */
  raw?: RawEntries
}

/** The encoded entries of one directory: `count` entries in buf[start, end). */
export interface RawEntries {
  buf: Buffer
  start: number
  end: number
  count: number
}

export const KIND_CODES: readonly EntryKind[] = ['file', 'exec', 'symlink', 'dir']

/** Number of entries of a cached directory, without decoding them. */
export function entryCount(d: CachedDir): number {
  return d.raw ? d.raw.count : d.entries.length
}

/** A directory of a decoded cache file: entries decoded on first use. */
class DecodedDir implements CachedDir {
  private decoded: CachedEntry[] | undefined
  constructor(
    readonly rel: string,
    readonly ino: number,
    readonly mtimeMs: number,
    readonly ctimeMs: number,
    readonly treeId: Uint8Array,
    readonly size: number,
    readonly raw: RawEntries,
  ) {}

  get entries(): CachedEntry[] {
    this.decoded ??= decodeEntries(this.raw)
    return this.decoded
  }
}

function decodeEntries(raw: RawEntries): CachedEntry[] {
  const {buf} = raw
  const r = new ByteReader(buf, 'stat cache')
  r.pos = raw.start
  const entries: CachedEntry[] = new Array(raw.count)
  for (let j = 0; j < raw.count; j++) {
    const kind = KIND_CODES[r.u8()]
    const nlen = r.varint()
    const name = buf.toString('utf8', r.pos, r.pos + nlen)
    r.pos += nlen
    const esize = r.varint()
    const e = makeEntry(name, kind, esize, buf.readDoubleLE(r.pos), buf.readDoubleLE(r.pos + 8), buf.readDoubleLE(r.pos + 16))
    r.pos += 24
    e.reused = true
    if (kind === 'symlink') {
      const tlen = r.varint()
      e.target = buf.toString('utf8', r.pos, r.pos + tlen)
      r.pos += tlen
    } else {
      e.idBuf = buf
      e.idOff = r.pos
      r.pos += 32
    }
    entries[j] = e
  }
  return entries
}

export interface StatCache {
  writtenAt: number
  dirs: Map<string, CachedDir>
}

const MAGIC = Buffer.from('VSC1')

class Writer {
  buf = Buffer.allocUnsafe(1 << 20)
  pos = 0
  need(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(b, 0, 0, this.pos)
    this.buf = b
  }
  varint(n: number): void {
    this.need(10)
    this.pos = writeVarint(this.buf, this.pos, n)
  }
  f64(n: number): void {
    this.need(8)
    this.buf.writeDoubleLE(n, this.pos)
    this.pos += 8
  }
  bytes(b: Uint8Array): void {
    this.need(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }
  str(s: string): void {
    const len = Buffer.byteLength(s)
    this.need(len + varintLength(len))
    this.pos = writeVarint(this.buf, this.pos, len)
    this.pos += this.buf.write(s, this.pos)
  }
}

export function encodeStatCache(c: StatCache): Buffer {
  const w = new Writer()
  w.bytes(MAGIC)
  w.f64(c.writtenAt)
  w.varint(c.dirs.size)
  for (const d of c.dirs.values()) {
    w.str(d.rel)
    w.f64(d.ino)
    w.f64(d.mtimeMs)
    w.f64(d.ctimeMs)
    w.bytes(d.treeId)
    w.varint(d.size)
    if (d.raw) {
      // Read from a cache file and found unchanged: the same bytes.
      w.varint(d.raw.count)
      w.bytes(d.raw.buf.subarray(d.raw.start, d.raw.end))
      continue
    }
    w.varint(d.entries.length)
    for (const e of d.entries) {
      w.need(1)
      w.buf[w.pos++] = KIND_CODES.indexOf(e.kind)
      w.str(e.name)
      w.varint(e.size)
      w.f64(e.ino)
      w.f64(e.mtimeMs)
      w.f64(e.ctimeMs)
      if (e.kind === 'symlink') w.str(e.target ?? '')
      else w.bytes(e.idBuf!.subarray(e.idOff, e.idOff + 32))
    }
  }
  return w.buf.subarray(0, w.pos)
}

export function decodeStatCache(buf: Buffer): StatCache | undefined {
  try {
    if (!buf.subarray(0, 4).equals(MAGIC)) return undefined
    const r = new ByteReader(buf, 'stat cache')
    r.pos = 4
    const f64 = (): number => {
      const v = buf.readDoubleLE(r.pos)
      r.pos += 8
      return v
    }
    const str = (): string => {
      const n = r.varint()
      const s = buf.toString('utf8', r.pos, r.pos + n)
      r.pos += n
      return s
    }
    const writtenAt = f64()
    const n = r.varint()
    const dirs = new Map<string, CachedDir>()
    for (let i = 0; i < n; i++) {
      const rel = str()
      const ino = f64()
      const mtimeMs = f64()
      const ctimeMs = f64()
      const treeId = r.bytes(32)
      const size = r.varint()
      const count = r.varint()
      // Check the entries' structure now (a damaged file is no cache); decode them when used.
      const start = r.pos
      for (let j = 0; j < count; j++) {
        const kind = KIND_CODES[r.u8()]
        if (!kind) return undefined
        const nameLen = r.varint()
        r.pos += nameLen
        r.varint() // size
        r.pos += 24 // ino, mtimeMs, ctimeMs
        const tail = kind === 'symlink' ? r.varint() : 32 // target or id
        r.pos += tail
        if (r.pos > buf.length) return undefined
      }
      dirs.set(rel, new DecodedDir(rel, ino, mtimeMs, ctimeMs, treeId, size, {buf, start, end: r.pos, count}))
    }
    if (r.remaining !== 0) return undefined
    return {writtenAt, dirs}
  } catch {
    return undefined
  }
}
