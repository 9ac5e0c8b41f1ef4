/**
 * Open file descriptors of upper-layer files, keyed by path. The overlay does not implement
 * open/release (so that opens of lower files never wait for JavaScript), so descriptors are opened
 * on first use and kept in a small LRU; a descriptor in use by a pending read or write is closed
 * only when that finishes. Renames and deletions re-key or retire entries.
 */
import {chmodSync, closeSync, constants, fstatSync, openSync} from 'node:fs'
import {isErrno} from '../util/errors.js'

interface FdEntry {
  fd: number
  writable: boolean
  refs: number
  dead: boolean
}

const RW = constants.O_RDWR | constants.O_NOFOLLOW
const RO = constants.O_RDONLY | constants.O_NOFOLLOW

export class FdCache {
  private readonly map = new Map<string, FdEntry>()

  constructor(private readonly limit = 64) {}

  get size(): number {
    return this.map.size
  }

  private open(abs: string, write: boolean): FdEntry {
    try {
      return {fd: openSync(abs, RW), writable: true, refs: 0, dead: false}
    } catch (err) {
      if (!isErrno(err, 'EACCES', 'EPERM')) throw err
    }
    if (!write) return {fd: openSync(abs, RO), writable: false, refs: 0, dead: false}
    // A file without write permission for its owner: the kernel already allowed this write (for
    // root, or through a descriptor opened before a chmod), so open it the same way.
    const fd = openSync(abs, RO)
    const mode = fstatSync(fd).mode & 0o7777
    closeSync(fd)
    chmodSync(abs, mode | 0o200)
    try {
      return {fd: openSync(abs, RW), writable: true, refs: 0, dead: false}
    } finally {
      chmodSync(abs, mode)
    }
  }

  private retire(key: string, e: FdEntry): void {
    this.map.delete(key)
    e.dead = true
    if (e.refs === 0) closeSync(e.fd)
  }

  private evict(): void {
    if (this.map.size <= this.limit) return
    for (const [k, e] of this.map) {
      if (this.map.size <= this.limit) break
      if (e.refs === 0) this.retire(k, e)
    }
  }

  /** Runs `fn` with a descriptor of `abs` (writable when `write`). */
  async use<T>(abs: string, write: boolean, fn: (fd: number) => Promise<T>): Promise<T> {
    let e = this.map.get(abs)
    if (e && write && !e.writable) {
      this.retire(abs, e)
      e = undefined
    }
    if (e) {
      this.map.delete(abs)
      this.map.set(abs, e)
    } else {
      e = this.open(abs, write)
      this.map.set(abs, e)
      this.evict()
    }
    e.refs++
    try {
      return await fn(e.fd)
    } finally {
      e.refs--
      if (e.dead && e.refs === 0) closeSync(e.fd)
    }
  }

  /** Keeps a descriptor the overlay opened itself (a created file). */
  adopt(abs: string, fd: number, writable: boolean): void {
    const old = this.map.get(abs)
    if (old) this.retire(abs, old)
    this.map.set(abs, {fd, writable, refs: 0, dead: false})
    this.evict()
  }

  /** Follows a rename of `from` (a file, or a directory and everything below it) to `to`. */
  rename(from: string, to: string): void {
    this.forget(to)
    const prefix = from + '/'
    const moved: [string, FdEntry][] = []
    for (const [k, e] of this.map) {
      if (k === from) moved.push([to, e])
      else if (k.startsWith(prefix)) moved.push([to + k.slice(from.length), e])
    }
    for (const [k] of moved) this.map.delete(k === to ? from : from + k.slice(to.length))
    for (const [k, e] of moved) this.map.set(k, e)
  }

  /** Drops `abs` (and anything below it): the file was deleted or replaced. */
  forget(abs: string): void {
    const prefix = abs + '/'
    for (const [k, e] of [...this.map]) if (k === abs || k.startsWith(prefix)) this.retire(k, e)
  }

  closeAll(): void {
    for (const [k, e] of [...this.map]) this.retire(k, e)
  }
}
