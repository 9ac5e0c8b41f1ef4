/**
 * The overlay's FUSE operations table, called directly (no kernel), on a real repository and a real
 * upper directory: lower-layer reads, every write operation, whiteouts, opaque and redirected
 * directories, remounting a layer, and a differential test against a plain directory.
 */
import {cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, rmdirSync, symlinkSync, truncateSync, unlinkSync, writeFileSync, chmodSync, openSync, writeSync, closeSync} from 'node:fs'
import {constants} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeTree, randomBytes, scratchDir, writeRandomFile} from '../../test/helpers/trees.js'
import {snapshot} from '../api/snapshot.js'
import type {Oid} from '../objects/oid.js'
import {Repository} from '../repo/Repository.js'
import {IngestPool} from '../snapshot/IngestPool.js'
import {scanTree} from '../snapshot/scanTree.js'
import {AccessTrace, readAccessTrace} from './AccessTrace.js'
import {createFuseOps, type OverlayOps} from './fuseOps.js'
import {Layer, OPAQUE_MARKER, REDIRECT_MARKER} from './Layer.js'
import {LowerContent} from './LowerContent.js'
import {LowerTree} from './LowerTree.js'
import {Overlay} from './Overlay.js'
import {overlayTree} from './overlayTree.js'

const E = constants.errno
const BIG = 5_000_000

let scratch: {path: string; cleanup: () => void}
let repo: Repository
let snapId: Oid
let src: string

beforeAll(async () => {
  scratch = scratchDir('velo-overlay-')
  src = join(scratch.path, 'src')
  makeTree(src, {
    'a.txt': 'hello\n',
    'run.sh': {exec: '#!/bin/sh\necho hi\n'},
    link: {symlink: 'a.txt'},
    'empty-file': '',
    empty: {dir: {}},
    sub: {dir: {deep: {dir: {f: 'deep\n', g: 'gee\n'}}, 's.txt': 'sss\n'}},
    d: {dir: {one: '1\n', two: '2\n'}},
  })
  writeRandomFile(join(src, 'big.bin'), BIG, 'big')
  repo = Repository.open(join(scratch.path, 'repo'), {create: true})
  snapId = (await snapshot(repo, {dir: src, ref: 'base'})).id
})

afterAll(() => {
  repo?.close()
  scratch?.cleanup()
})

interface Mounted {
  ov: Overlay
  ops: OverlayOps
  layer?: Layer
}

function mount(layerDir?: string, o: {readOnly?: boolean; trace?: AccessTrace} = {}): Mounted {
  const snap = repo.readSnapshot(snapId)
  const layer = layerDir ? Layer.open(layerDir, snapId) : undefined
  const ov = new Overlay({
    lower: new LowerTree(snap.tree, (t) => repo.readTree(t)),
    content: new LowerContent(repo.packs),
    layer,
    readOnly: o.readOnly,
    uid: 1234,
    gid: 5678,
    time: snap.time,
    onAccess: o.trace ? (p) => o.trace!.record(p) : undefined,
  })
  return {ov, ops: createFuseOps(ov), layer}
}

class Errno extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`)
  }
}

/** Calls an op with a (err, value) callback; rejects with Errno on a negative result. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function call<T = void>(fn: (cb: (err: number, ...results: any[]) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err < 0 ? reject(new Errno(-err)) : resolve(v as T))))
}

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p
  } catch (e) {
    if (e instanceof Errno) return e.errno
    throw e
  }
  return 0
}

function readN(ops: OverlayOps, path: string, len: number, pos: number): Promise<Buffer> {
  const buf = Buffer.alloc(len)
  return new Promise((resolve, reject) =>
    ops.read(path, 0, buf, len, pos, (n) => (n < 0 ? reject(new Errno(-n)) : resolve(buf.subarray(0, n)))),
  )
}

async function readAll(ops: OverlayOps, path: string): Promise<Buffer> {
  const st = await call<{size: number}>((cb) => ops.getattr(path, cb))
  return readN(ops, path, st.size + 10, 0)
}

function writeAt(ops: OverlayOps, path: string, data: Buffer | string, pos: number): Promise<number> {
  const buf = Buffer.from(data)
  return new Promise((resolve, reject) => ops.write(path, 0, buf, buf.length, pos, (n) => (n < 0 ? reject(new Errno(-n)) : resolve(n))))
}

async function names(ops: OverlayOps, path: string): Promise<string[]> {
  const n = await call<string[]>((cb) => ops.readdir(path, cb))
  return n.filter((x) => x !== '.' && x !== '..').sort()
}

const mode = async (ops: OverlayOps, p: string): Promise<number> => (await call<{mode: number}>((cb) => ops.getattr(p, cb))).mode

describe('overlay: the lower layer', () => {
  it('answers names, kinds, modes, sizes and link targets from the snapshot', async () => {
    const {ops} = mount()
    expect(await names(ops, '/')).toEqual(['a.txt', 'big.bin', 'd', 'empty', 'empty-file', 'link', 'run.sh', 'sub'])
    const all = await call<string[]>((cb) => ops.readdir('/', cb))
    expect(all.slice(0, 2)).toEqual(['.', '..'])
    expect(await mode(ops, '/a.txt')).toBe(0o100644)
    expect(await mode(ops, '/run.sh')).toBe(0o100755)
    expect(await mode(ops, '/sub')).toBe(0o040755)
    expect(await mode(ops, '/link')).toBe(0o120777)
    const st = await call<{size: number; uid: number; gid: number; mtime: number}>((cb) => ops.getattr('/big.bin', cb))
    expect(st).toMatchObject({size: BIG, uid: 1234, gid: 5678, mtime: repo.readSnapshot(snapId).time})
    expect(await call<string>((cb) => ops.readlink('/link', cb))).toBe('a.txt')
    expect(await errnoOf(call((cb) => ops.getattr('/nope', cb)))).toBe(E.ENOENT)
    expect(await errnoOf(call((cb) => ops.getattr('/a.txt/x', cb)))).toBe(E.ENOTDIR)
    expect(await errnoOf(call((cb) => ops.readlink('/a.txt', cb)))).toBe(E.EINVAL)
    expect(await errnoOf(call((cb) => ops.readdir('/a.txt', cb)))).toBe(E.ENOTDIR)
  })

  it('reads a chunked file correctly at any offset, and small files whole', async () => {
    const {ops} = mount()
    const want = readFileSync(join(src, 'big.bin'))
    expect(repo.packs.chunksOf(repo.readTree(repo.readSnapshot(snapId).tree).find((e) => e.name === 'big.bin')!.id).length).toBeGreaterThan(1)
    for (const [pos, len] of [[0, 4096], [131_071, 300_000], [2_000_000, 1 << 20], [BIG - 100, 4096], [BIG, 10], [BIG + 5, 10], [1_234_567, 1]]) {
      const got = await readN(ops, '/big.bin', len, pos)
      expect(got.equals(want.subarray(pos, Math.min(BIG, pos + len)))).toBe(true)
    }
    expect((await readAll(ops, '/sub/deep/f')).toString()).toBe('deep\n')
    expect((await readAll(ops, '/empty-file')).length).toBe(0)
    expect(await errnoOf(readN(ops, '/sub', 10, 0))).toBe(E.EISDIR)
  })

  it('reads only the chunks a range overlaps', () => {
    const entry = repo.readTree(repo.readSnapshot(snapId).tree).find((e) => e.name === 'big.bin')!
    const reads: string[] = []
    const content = new LowerContent({
      chunksOf: (id, size) => repo.packs.chunksOf(id, size),
      read: (id, type) => {
        reads.push(id)
        return repo.packs.read(id, type)
      },
    })
    const chunks = repo.packs.chunksOf(entry.id, entry.size)
    const buf = Buffer.alloc(10)
    // the last bytes of the file: only the last chunk is read
    expect(content.read(entry.id, entry.size, buf, 10, BIG - 10)).toBe(10)
    expect(reads).toEqual([chunks[chunks.length - 1].id])
    // a range across the first chunk boundary: the first two chunks; cached afterwards
    reads.length = 0
    const edge = chunks[0].size
    expect(content.read(entry.id, entry.size, buf, 10, edge - 5)).toBe(10)
    expect(content.read(entry.id, entry.size, buf, 10, edge - 5)).toBe(10)
    expect(reads).toEqual([chunks[0].id, chunks[1].id])
    expect(buf.equals(readFileSync(join(src, 'big.bin')).subarray(edge - 5, edge + 5))).toBe(true)
  })

  it('refuses every change when read-only', async () => {
    const {ops} = mount(undefined, {readOnly: true})
    expect(await errnoOf(writeAt(ops, '/a.txt', 'x', 0))).toBe(E.EROFS)
    expect(await errnoOf(call((cb) => ops.unlink('/a.txt', cb)))).toBe(E.EROFS)
    expect(await errnoOf(call((cb) => ops.mkdir('/n', 0o755, cb)))).toBe(E.EROFS)
    expect(await errnoOf(call((cb) => ops.create('/n', 0o644, cb)))).toBe(E.EROFS)
    expect(await errnoOf(call((cb) => ops.rename('/a.txt', '/b', cb)))).toBe(E.EROFS)
  })

  it('records the first access of each file, in order', async () => {
    const file = join(scratch.path, 'trace-1')
    const trace = new AccessTrace(file, 0)
    const {ops} = mount(undefined, {trace})
    await readAll(ops, '/sub/deep/f')
    await readAll(ops, '/a.txt')
    await readAll(ops, '/sub/deep/f')
    await readN(ops, '/big.bin', 10, 0)
    trace.flush()
    expect(readAccessTrace(file)).toEqual(['sub/deep/f', 'a.txt', 'big.bin'])
    expect(readAccessTrace(join(scratch.path, 'no-trace'))).toEqual([])
  })
})

describe('overlay: the copy-on-write upper layer', () => {
  it('copies a file up on its first write and never changes the snapshot', async () => {
    const dir = join(scratch.path, 'L-write')
    const {ops} = mount(dir)
    expect(await writeAt(ops, '/a.txt', 'J', 0)).toBe(1)
    expect((await readAll(ops, '/a.txt')).toString()).toBe('Jello\n')
    expect(readFileSync(join(dir, 'root/a.txt'), 'utf8')).toBe('Jello\n')
    // appending (the kernel passes the end of file as the offset)
    await writeAt(ops, '/a.txt', 'more\n', 6)
    expect((await readAll(ops, '/a.txt')).toString()).toBe('Jello\nmore\n')
    // a write in the middle of a large chunked file
    await writeAt(ops, '/big.bin', 'XYZ', 3_000_000)
    const want = readFileSync(join(src, 'big.bin'))
    want.write('XYZ', 3_000_000)
    expect((await readN(ops, '/big.bin', BIG, 0)).equals(want)).toBe(true)
    // the lower layer is untouched
    expect((await readAll(mount().ops, '/a.txt')).toString()).toBe('hello\n')
    // the copy keeps the mode
    expect(await mode(ops, '/a.txt')).toBe(0o100644)
  })

  it('creates, truncates, changes modes, makes symlinks and hard links', async () => {
    const {ops} = mount(join(scratch.path, 'L-create'))
    await call((cb) => ops.create('/new.txt', 0o100600, cb))
    await writeAt(ops, '/new.txt', 'abc', 0)
    expect(await mode(ops, '/new.txt')).toBe(0o100600)
    expect(await errnoOf(call((cb) => ops.create('/new.txt', 0o644, cb)))).toBe(E.EEXIST)
    expect(await errnoOf(call((cb) => ops.create('/a.txt', 0o644, cb)))).toBe(E.EEXIST)
    await call((cb) => ops.truncate('/run.sh', 3, cb))
    expect((await readAll(ops, '/run.sh')).toString()).toBe('#!/')
    expect(await mode(ops, '/run.sh')).toBe(0o100755)
    await call((cb) => ops.truncate('/sub/s.txt', 10, cb))
    expect((await readAll(ops, '/sub/s.txt')).equals(Buffer.from('sss\n\0\0\0\0\0\0'))).toBe(true)
    await call((cb) => ops.chmod('/a.txt', 0o755, cb))
    expect(await mode(ops, '/a.txt')).toBe(0o100755)
    await call((cb) => ops.symlink('sub/deep', '/sl', cb))
    expect(await call<string>((cb) => ops.readlink('/sl', cb))).toBe('sub/deep')
    expect(await mode(ops, '/sl')).toBe(0o120777)
    await call((cb) => ops.link('/d/one', '/one-again', cb))
    expect(await call<{nlink: number}>((cb) => ops.getattr('/one-again', cb))).toMatchObject({nlink: 2})
    await writeAt(ops, '/one-again', 'I', 0)
    expect((await readAll(ops, '/d/one')).toString()).toBe('I\n')
    await call((cb) => ops.utimens('/d/two', 1_600_000_000_000, 1_600_000_000_000, cb))
    expect(await call<{mtime: number}>((cb) => ops.getattr('/d/two', cb))).toMatchObject({mtime: 1_600_000_000_000})
  })

  it('does not copy a file up for a chmod that changes nothing', async () => {
    const dir = join(scratch.path, 'L-chmod')
    const {ops} = mount(dir)
    await call((cb) => ops.chmod('/a.txt', 0o644, cb))
    await call((cb) => ops.chown('/a.txt', 0, 0, cb))
    expect(existsSync(join(dir, 'root/a.txt'))).toBe(false)
  })

  it('deletes lower entries with whiteouts that survive a remount', async () => {
    const dir = join(scratch.path, 'L-delete')
    let {ops} = mount(dir)
    await call((cb) => ops.unlink('/a.txt', cb))
    await call((cb) => ops.unlink('/link', cb))
    expect(await errnoOf(call((cb) => ops.unlink('/sub', cb)))).toBe(E.EISDIR)
    expect(await errnoOf(call((cb) => ops.rmdir('/sub', cb)))).toBe(E.ENOTEMPTY)
    for (const f of ['f', 'g']) await call((cb) => ops.unlink(`/sub/deep/${f}`, cb))
    await call((cb) => ops.rmdir('/sub/deep', cb))
    await call((cb) => ops.rmdir('/empty', cb))
    expect(await errnoOf(call((cb) => ops.rmdir('/a.txt', cb)))).toBe(E.ENOENT)
    expect(existsSync(join(dir, 'root/.wh.a.txt'))).toBe(true)
    expect(existsSync(join(dir, 'root/sub/.wh.deep'))).toBe(true)
    ops = mount(dir).ops
    expect(await names(ops, '/')).toEqual(['big.bin', 'd', 'empty-file', 'run.sh', 'sub'])
    expect(await names(ops, '/sub')).toEqual(['s.txt'])
    expect(await errnoOf(call((cb) => ops.getattr('/a.txt', cb)))).toBe(E.ENOENT)
    // a new directory where a lower one was deleted is opaque: the old entries stay gone
    await call((cb) => ops.mkdir('/sub/deep', 0o755, cb))
    expect(await names(ops, '/sub/deep')).toEqual([])
    expect(existsSync(join(dir, 'root/sub/deep', OPAQUE_MARKER))).toBe(true)
    expect(existsSync(join(dir, 'root/sub/.wh.deep'))).toBe(false)
    // a file re-created over a whiteout
    await call((cb) => ops.create('/a.txt', 0o644, cb))
    expect((await readAll(ops, '/a.txt')).length).toBe(0)
    expect(await names(mount(dir).ops, '/sub/deep')).toEqual([])
  })

  it('renames files and directories (a directory rename reads no data)', async () => {
    const dir = join(scratch.path, 'L-rename')
    let {ops} = mount(dir)
    await call((cb) => ops.rename('/a.txt', '/b.txt', cb))
    expect((await readAll(ops, '/b.txt')).toString()).toBe('hello\n')
    expect(await errnoOf(call((cb) => ops.getattr('/a.txt', cb)))).toBe(E.ENOENT)
    // over an existing file
    await call((cb) => ops.rename('/b.txt', '/d/one', cb))
    expect((await readAll(ops, '/d/one')).toString()).toBe('hello\n')
    // a lower directory: redirect, nothing copied
    await call((cb) => ops.rename('/sub', '/moved', cb))
    expect(readFileSync(join(dir, 'root/moved', REDIRECT_MARKER), 'utf8')).toBe('sub')
    expect(readdirSync(join(dir, 'root/moved'))).toEqual([REDIRECT_MARKER])
    expect(await names(ops, '/moved')).toEqual(['deep', 's.txt'])
    expect((await readAll(ops, '/moved/deep/f')).toString()).toBe('deep\n')
    expect(await errnoOf(call((cb) => ops.getattr('/sub', cb)))).toBe(E.ENOENT)
    // change inside the moved directory, move it again, into another directory
    await writeAt(ops, '/moved/deep/g', 'G', 0)
    await call((cb) => ops.rename('/moved', '/d/inner', cb))
    expect((await readAll(ops, '/d/inner/deep/g')).toString()).toBe('Gee\n')
    expect(await errnoOf(call((cb) => ops.rename('/d', '/d/inner/x', cb)))).toBe(E.EINVAL)
    expect(await errnoOf(call((cb) => ops.rename('/d/inner', '/big.bin', cb)))).toBe(E.ENOTDIR)
    expect(await errnoOf(call((cb) => ops.rename('/big.bin', '/d', cb)))).toBe(E.EISDIR)
    expect(await errnoOf(call((cb) => ops.rename('/empty', '/d', cb)))).toBe(E.ENOTEMPTY)
    // a directory over an empty lower directory: that one's (deleted) entries stay hidden
    await call((cb) => ops.mkdir('/fresh', 0o755, cb))
    await call((cb) => ops.create('/fresh/x', 0o644, cb))
    await call((cb) => ops.rename('/fresh', '/empty', cb))
    expect(await names(ops, '/empty')).toEqual(['x'])
    // back to where it came from
    await call((cb) => ops.rename('/d/inner', '/sub', cb))
    ops = mount(dir).ops
    expect(await names(ops, '/')).toEqual(['big.bin', 'd', 'empty', 'empty-file', 'link', 'run.sh', 'sub'])
    expect(await names(ops, '/sub/deep')).toEqual(['f', 'g'])
    expect((await readAll(ops, '/sub/deep/g')).toString()).toBe('Gee\n')
    expect(await names(ops, '/d')).toEqual(['one', 'two'])
  })

  it('reserves the names of its markers', async () => {
    const {ops} = mount(join(scratch.path, 'L-names'))
    expect(await errnoOf(call((cb) => ops.create('/.wh.a.txt', 0o644, cb)))).toBe(E.EINVAL)
    expect(await errnoOf(call((cb) => ops.mkdir('/.wh..wh..opq', 0o755, cb)))).toBe(E.EINVAL)
    expect(await errnoOf(call((cb) => ops.rename('/a.txt', '/.wh.x', cb)))).toBe(E.EINVAL)
  })

  it('keeps two layers of one snapshot apart', async () => {
    const x = mount(join(scratch.path, 'L-iso-x')).ops
    const y = mount(join(scratch.path, 'L-iso-y')).ops
    await writeAt(x, '/a.txt', 'X', 0)
    await call((cb) => y.unlink('/a.txt', cb))
    expect((await readAll(x, '/a.txt')).toString()).toBe('Xello\n')
    expect(await errnoOf(call((cb) => y.getattr('/a.txt', cb)))).toBe(E.ENOENT)
  })

  it('refuses a layer made on another snapshot, and a second live lock', async () => {
    const dir = join(scratch.path, 'L-lock')
    const {layer} = mount(dir)
    const lock = layer!.lock('/somewhere')
    expect(() => Layer.open(dir, '0'.repeat(64) as Oid)).toThrow(/belongs to snapshot/)
    expect(() => layer!.lock('/elsewhere')).toThrow(/in use by the mount at \/somewhere/)
    lock.release()
    layer!.lock('/elsewhere').release()
  })
})

// ------------------------------------------------------------------ differential test

/** The same operations on a plain directory and on the overlay must give the same tree. */
describe('overlay: equals a plain directory after random operations', () => {
  const seeds = [1, 2, 3, 4]
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      const real = join(scratch.path, `real-${seed}`)
      cpSync(src, real, {recursive: true, verbatimSymlinks: true})
      const dir = join(scratch.path, `L-diff-${seed}`)
      let {ops} = mount(dir)
      let rnd = randomBytes(1 << 16, `ops-${seed}`)
      let at = 0
      const r = (n: number): number => {
        if (at + 4 > rnd.length) {
          rnd = randomBytes(1 << 16, `ops-${seed}-${at}`)
          at = 0
        }
        const v = rnd.readUInt32LE(at) % n
        at += 4
        return v
      }
      const list = (): {files: string[]; dirs: string[]} => {
        const files: string[] = []
        const dirs: string[] = ['']
        const rec = (rel: string): void => {
          for (const name of readdirSync(join(real, rel)).sort()) {
            const p = rel ? `${rel}/${name}` : name
            const st = lstatSync(join(real, p))
            if (st.isDirectory()) {
              dirs.push(p)
              rec(p)
            } else files.push(p)
          }
        }
        rec('')
        return {files, dirs}
      }
      const pick = <T>(a: T[]): T => a[r(a.length)]
      const fresh = (): string => `n${r(1000)}`
      for (let step = 0; step < 150; step++) {
        const {files, dirs} = list()
        const op = r(10)
        if (op === 0 && files.length) {
          const f = pick(files)
          if (lstatSync(join(real, f)).isSymbolicLink()) continue
          const data = randomBytes(1 + r(3000), `${seed}-${step}`)
          const size = lstatSync(join(real, f)).size
          const pos = r(size + 100)
          const fd = openSync(join(real, f), 'r+')
          writeSync(fd, data, 0, data.length, pos)
          closeSync(fd)
          await writeAt(ops, `/${f}`, data, pos)
        } else if (op === 1) {
          const p = [pick(dirs), fresh()].filter(Boolean).join('/')
          if (lexists(join(real, p))) continue
          writeFileSync(join(real, p), `new ${step}\n`, {mode: 0o644})
          await call((cb) => ops.create(`/${p}`, 0o100644, cb))
          await writeAt(ops, `/${p}`, `new ${step}\n`, 0)
        } else if (op === 2 && files.length) {
          const f = pick(files)
          unlinkSync(join(real, f))
          await call((cb) => ops.unlink(`/${f}`, cb))
        } else if (op === 3) {
          const p = [pick(dirs), fresh()].filter(Boolean).join('/')
          if (lexists(join(real, p))) continue
          mkdirSync(join(real, p))
          await call((cb) => ops.mkdir(`/${p}`, 0o755, cb))
        } else if (op === 4 && dirs.length > 1) {
          const d = pick(dirs.slice(1))
          const empty = readdirSync(join(real, d)).length === 0
          if (empty) rmdirSync(join(real, d))
          expect(await errnoOf(call((cb) => ops.rmdir(`/${d}`, cb)))).toBe(empty ? 0 : E.ENOTEMPTY)
        } else if (op === 5 && (files.length || dirs.length > 1)) {
          const from = r(2) === 0 && files.length ? pick(files) : pick(dirs.slice(1).length ? dirs.slice(1) : files)
          const toDir = pick(dirs)
          const to = r(3) === 0 && files.length ? pick(files) : [toDir, fresh()].filter(Boolean).join('/')
          if (!from || to === from || to.startsWith(from + '/')) continue
          const fromDir = lstatSync(join(real, from)).isDirectory()
          const dst = lstatSync(join(real, to), {throwIfNoEntry: false})
          if (dst && (dst.isDirectory() !== fromDir || (fromDir && readdirSync(join(real, to)).length > 0))) continue
          renameSync(join(real, from), join(real, to))
          await call((cb) => ops.rename(`/${from}`, `/${to}`, cb))
        } else if (op === 6 && files.length) {
          const f = pick(files)
          if (lstatSync(join(real, f)).isSymbolicLink()) continue
          const size = r(lstatSync(join(real, f)).size + 50)
          truncateSync(join(real, f), size)
          await call((cb) => ops.truncate(`/${f}`, size, cb))
        } else if (op === 7 && files.length) {
          const f = pick(files)
          if (lstatSync(join(real, f)).isSymbolicLink()) continue
          const m = r(2) ? 0o755 : 0o644
          chmodSync(join(real, f), m)
          await call((cb) => ops.chmod(`/${f}`, m, cb))
        } else if (op === 8) {
          const p = [pick(dirs), fresh()].filter(Boolean).join('/')
          if (lexists(join(real, p))) continue
          const target = `t${r(5)}`
          symlinkSync(target, join(real, p))
          await call((cb) => ops.symlink(target, `/${p}`, cb))
        } else if (op === 9) {
          ops = mount(dir).ops // remount the same layer
        }
      }
      await expectSameTree(ops, real)
      await expectSameTree(mount(dir).ops, real)
      // velo snapshot MNT: the tree from the layer equals the tree of the plain directory
      expect(await treeFromLayer(dir)).toBe(await treeOfDir(real))
    })
  }
})

function lexists(p: string): boolean {
  return lstatSync(p, {throwIfNoEntry: false}) !== undefined
}

async function expectSameTree(ops: OverlayOps, real: string): Promise<void> {
  const rec = async (rel: string): Promise<void> => {
    const want = readdirSync(join(real, rel)).sort()
    expect(await names(ops, `/${rel}`), rel).toEqual(want)
    for (const name of want) {
      const p = rel ? `${rel}/${name}` : name
      const st = lstatSync(join(real, p))
      const m = await mode(ops, `/${p}`)
      if (st.isDirectory()) {
        expect(m & 0o170000, p).toBe(0o040000)
        await rec(p)
      } else if (st.isSymbolicLink()) {
        expect(await call<string>((cb) => ops.readlink(`/${p}`, cb)), p).toBe(readlinkSync(join(real, p)))
      } else {
        expect(m & 0o100, p).toBe(st.mode & 0o100)
        expect((await readAll(ops, `/${p}`)).equals(readFileSync(join(real, p))), p).toBe(true)
      }
    }
  }
  await rec('')
}

async function treeFromLayer(layerDir: string): Promise<Oid> {
  const pool = new IngestPool({packsDir: repo.packsDir, tmpDir: repo.tmpDir, level: 0, dryRun: true})
  const r = await overlayTree({
    readTree: (t) => repo.readTree(t),
    base: repo.readSnapshot(snapId).tree,
    upperRoot: join(layerDir, 'root'),
    pool,
    has: () => true,
    writeTree: () => undefined,
  })
  await pool.finish()
  return r.tree
}

async function treeOfDir(dir: string): Promise<Oid> {
  const pool = new IngestPool({packsDir: repo.packsDir, tmpDir: repo.tmpDir, level: 0, dryRun: true})
  const r = await scanTree({root: dir, pool, has: () => true})
  await pool.finish()
  return r.tree
}
