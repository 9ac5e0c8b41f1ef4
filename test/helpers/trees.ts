/**
 * Helpers for tests on real directory trees: deterministic pseudo-random data, building trees from
 * a plain object, walking a tree into comparable records, temp directories that outlive one test.
 */
import {createHash} from 'node:crypto'
import {
  closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync,
  symlinkSync, writeFileSync, writeSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterAll, beforeAll} from 'vitest'
import {hash} from '../../src/objects/hash.js'

/**
 * A deterministic pseudo-random byte stream (xorshift128, seeded by BLAKE3 of the seed): about
 * 1.5 GB/s in V8, identical on every machine, incompressible. The same generator is in
 * scripts/make-fixtures.js. Not for cryptography.
 */
export class RandomStream {
  private s: Int32Array
  constructor(seed: string | number) {
    const h = hash(Buffer.from(`velo-test-${seed}`))
    this.s = new Int32Array(4)
    for (let i = 0; i < 4; i++) this.s[i] = h.readInt32LE(i * 4) | (i === 0 ? 1 : 0)
  }
  /** The next n bytes (n rounded up to a multiple of 4 internally). */
  next(n: number): Buffer {
    const buf = Buffer.allocUnsafeSlow((n + 3) & ~3)
    const u = new Int32Array(buf.buffer, buf.byteOffset, buf.length >>> 2)
    let x = this.s[0], y = this.s[1], z = this.s[2], w = this.s[3]
    for (let i = 0; i < u.length; i++) {
      const t = x ^ (x << 11)
      x = y
      y = z
      z = w
      w = w ^ (w >>> 19) ^ (t ^ (t >>> 8))
      u[i] = w
    }
    this.s[0] = x
    this.s[1] = y
    this.s[2] = z
    this.s[3] = w
    return buf.subarray(0, n)
  }
}

export function randomBytes(n: number, seed: string | number): Buffer {
  return new RandomStream(seed).next(n)
}

/** Writes `size` pseudo-random bytes to `path` in 8 MiB pieces. */
export function writeRandomFile(path: string, size: number, seed: string | number, mode = 0o644): void {
  const rs = new RandomStream(seed)
  const fd = openSync(path, 'w', mode)
  try {
    for (let left = size; left > 0; ) {
      const piece = rs.next(Math.min(left, 8 << 20))
      let off = 0
      while (off < piece.length) off += writeSync(fd, piece, off, piece.length - off)
      left -= piece.length
    }
  } finally {
    closeSync(fd)
  }
}

export type Spec = string | Buffer | {symlink: string} | {exec: string | Buffer} | {dir: Record<string, Spec>}

/** Builds a tree: strings/Buffers are files, {exec} executable files, {symlink}, {dir} (possibly empty). */
export function makeTree(root: string, spec: Record<string, Spec>): void {
  mkdirSync(root, {recursive: true})
  for (const [name, v] of Object.entries(spec)) {
    const p = join(root, name)
    mkdirSync(dirname(p), {recursive: true})
    if (typeof v === 'string' || Buffer.isBuffer(v)) writeFileSync(p, v, {mode: 0o644})
    else if ('symlink' in v) symlinkSync(v.symlink, p)
    else if ('exec' in v) writeFileSync(p, v.exec, {mode: 0o755})
    else makeTree(p, v.dir)
  }
}

export interface PathInfo {
  type: 'file' | 'dir' | 'symlink' | 'other'
  size: number
  exec: boolean
  target?: string
}

/** Every path below `root` (relative, sorted) with its type, size, exec bit and symlink target. */
export function walkTree(root: string): Map<string, PathInfo> {
  const out = new Map<string, PathInfo>()
  const rec = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name)
      const r = rel ? `${rel}/${name}` : name
      const st = lstatSync(abs)
      if (st.isDirectory()) {
        out.set(r, {type: 'dir', size: 0, exec: false})
        rec(abs, r)
      } else if (st.isSymbolicLink()) {
        out.set(r, {type: 'symlink', size: st.size, exec: false, target: readlinkSync(abs)})
      } else if (st.isFile()) {
        out.set(r, {type: 'file', size: st.size, exec: (st.mode & 0o100) !== 0})
      } else {
        out.set(r, {type: 'other', size: 0, exec: false})
      }
    }
  }
  rec(root, '')
  return out
}

/** Total size of the regular files below `dir` (a repository's disk footprint). */
export function dirBytes(dir: string): number {
  let n = 0
  const rec = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      const st = lstatSync(p)
      if (st.isDirectory()) rec(p)
      else if (st.isFile()) n += st.size
    }
  }
  rec(dir)
  return n
}

/** A temp directory, created now: call cleanup when done (e.g. in afterEach). */
export function scratchDir(prefix = 'velo-it-'): {path: string; cleanup: () => void} {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return {path, cleanup: () => rmSync(path, {recursive: true, force: true})}
}

/**
 * A temp directory for a describe block (call at the top of its body): its path is known at once,
 * the directory is created by a beforeAll and removed by an afterAll of that block, so a block
 * that does not run (filtered out) leaves nothing behind.
 */
export function useScratchDir(prefix = 'velo-it-'): {path: string; cleanup: () => void} {
  const path = join(tmpdir(), `${prefix}${randomBytes(6, `${process.pid}-${Date.now()}-${Math.random()}`).toString('hex')}`)
  const cleanup = (): void => rmSync(path, {recursive: true, force: true})
  beforeAll(() => mkdirSync(path, {mode: 0o700}))
  afterAll(cleanup)
  return {path, cleanup}
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

/** Flips one byte of a file in place (pack files are read-only; tests run as root or chmod first). */
export function flipByte(path: string, pos: number, mask = 0x01): void {
  const buf = readFileSync(path)
  buf[pos] ^= mask
  rmSync(path, {force: true})
  writeFileSync(path, buf, {mode: 0o444})
}
