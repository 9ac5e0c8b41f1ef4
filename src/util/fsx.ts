import {closeSync, fsyncSync, openSync, renameSync, writeSync, constants, mkdirSync, unlinkSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {dirname, join} from 'node:path'
import {fsError, isErrno} from './errors.js'

/** fsync is skipped only when VELO_FSYNC=0 (throwaway CI repositories). */
export const durable = process.env.VELO_FSYNC !== '0'

export function fsyncDir(dir: string): void {
  if (!durable) return
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export function tempName(dir: string, base: string): string {
  return join(dir, `.${base}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory, fsync, rename, fsync of
 * the directory. A crash leaves either the old or the new file, never a mix.
 */
export function atomicWrite(path: string, data: Uint8Array | string, opts: {mode?: number; sync?: boolean} = {}): void {
  const dir = dirname(path)
  const tmp = tempName(dir, 'w')
  const sync = (opts.sync ?? true) && durable
  let fd: number | undefined
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, opts.mode ?? 0o644)
    const buf = typeof data === 'string' ? Buffer.from(data) : data
    let off = 0
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
    if (sync) fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(tmp, path)
    if (sync) fsyncDir(dir)
  } catch (err) {
    if (fd !== undefined) closeSync(fd)
    try {
      unlinkSync(tmp)
    } catch {
      /* the temp file may not exist */
    }
    throw fsError(err, path, 'writing')
  }
}

export function mkdirp(dir: string): void {
  try {
    mkdirSync(dir, {recursive: true})
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw fsError(err, dir, 'creating')
  }
}

export function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
}
