/**
 * tar import and export against the real GNU tar and bsdtar (and gzip/zstd): archives velo writes
 * extract to exactly the snapshot, archives the tools write import to exactly the tree, hostile
 * archives are refused without recording anything, OCI whiteouts apply on top of a base.
 */
import {createHash, randomBytes} from 'node:crypto'
import {chmodSync, createWriteStream, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {describe, expect, it} from 'vitest'
import {snapshot} from '../../src/api/snapshot.js'
import {exportTar} from '../../src/archive/exportTar.js'
import {importTar} from '../../src/archive/importTar.js'
import {createTarPack} from '../../src/archive/tarStream.js'
import {Repository, initRepository} from '../../src/repo/Repository.js'
import {restoreTree} from '../../src/restore/restoreTree.js'
import {VeloError} from '../../src/util/errors.js'
import {describeTree, makeTree, rawTar, run, runBinary, type RawEntry, type TreeSpec} from '../helpers/interop.js'
import {tmpDir} from '../helpers/velo.js'

const UTF8 = {LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8'}

function newRepo(): {repo: Repository; dir: string} {
  const dir = tmpDir('velo-tar-')
  initRepository(join(dir, 'repo'))
  return {repo: Repository.open(join(dir, 'repo')), dir}
}

/** A tree with everything a tar must carry: modes, symlinks, empties, long and non-ASCII names, a chunked file. */
function richTree(root: string): void {
  const long = 'd'.repeat(60)
  makeTree(root, {
    'a.txt': 'hello\n',
    'empty.txt': '',
    'run.sh': {exec: '#!/bin/sh\necho hi\n'},
    'link-rel': {symlink: 'a.txt'},
    'link-dangling': {symlink: 'no/such/file'},
    'link-long': {symlink: `${'t'.repeat(150)}/x`},
    'emptydir': {},
    'nested': {deeper: {}},
    'héllo wörld ✓.txt': 'utf-8 names\n',
    [long]: {[long]: {[`${'f'.repeat(120)}.txt`]: 'long path\n'}},
    'big.bin': randomBytes((2 << 20) + 12345),
    sub: {'b.txt': 'b\n', 'up': {symlink: '../a.txt'}, 'x.sh': {exec: 'x'}},
  })
}

async function exportToFile(repo: Repository, rev: string, file: string, compression?: 'gzip' | 'zstd'): Promise<Awaited<ReturnType<typeof exportTar>>> {
  return exportTar(repo, {rev, output: createWriteStream(file), compression})
}

/** The archive tar-stream's own pack stream writes for a tree, with velo's entry order and headers. */
async function packedByTarStream(root: string, time: number): Promise<Buffer> {
  const pack = createTarPack()
  const parts: Buffer[] = []
  pack.on('data', (d: Buffer) => parts.push(d))
  const ended = new Promise((resolve) => pack.on('end', resolve))
  const common = {mtime: new Date(Math.floor(time / 1000) * 1000), uid: 0, gid: 0, uname: '', gname: ''}
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))) {
      const p = join(dir, name)
      const st = lstatSync(p)
      if (st.isSymbolicLink()) pack.entry({name: prefix + name, type: 'symlink', linkname: readlinkSync(p), mode: 0o777, ...common})
      else if (st.isDirectory()) {
        pack.entry({name: `${prefix + name}/`, type: 'directory', mode: 0o755, ...common})
        walk(p, `${prefix + name}/`)
      } else pack.entry({name: prefix + name, type: 'file', mode: st.mode & 0o100 ? 0o755 : 0o644, size: st.size, ...common}, readFileSync(p))
    }
  }
  walk(root, '')
  pack.finalize()
  await ended
  return Buffer.concat(parts)
}

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

function packCount(repo: Repository): number {
  return readdirSync(repo.packsDir).filter((f) => f.endsWith('.idx')).length
}

async function expectRefused(repo: Repository, dir: string, entries: RawEntry[], code: string, message: RegExp, o: {base?: string} = {}): Promise<void> {
  const file = join(dir, `hostile-${Math.random().toString(36).slice(2)}.tar`)
  writeFileSync(file, rawTar(entries))
  const packs = packCount(repo)
  const err = await importTar(repo, {file, ref: 'hostile', base: o.base}).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, `archive ${JSON.stringify(entries.map((e) => e.name))} was accepted`).toBeInstanceOf(VeloError)
  expect((err as VeloError).code).toBe(code)
  expect((err as VeloError).message).toMatch(message)
  expect(repo.refs.read('hostile')).toBeUndefined()
  expect(packCount(repo)).toBe(packs)
  // GNU tar itself reads the archive (it is a well-formed tar, only its content is hostile).
  run('tar', ['tf', file])
}

describe('velo export tar', () => {
  it('writes archives GNU tar and bsdtar extract to exactly the snapshot, byte-identical every time', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    richTree(src)
    const s = await snapshot(repo, {dir: src, ref: 'rich'})
    const a = join(dir, 'a.tar')
    const r = await exportToFile(repo, 'rich', a)
    expect(r).toMatchObject({snapshot: s.id, files: 8, symlinks: 4, dirs: 6, bytes: s.bytes})
    expect(r.archiveBytes).toBe(readFileSync(a).length)
    const want = describeTree(src)
    for (const tool of ['tar', 'bsdtar']) {
      const out = join(dir, `x-${tool}`)
      mkdirSync(out)
      run(tool, ['-xf', a, '-C', out], {env: UTF8})
      expect(describeTree(out), tool).toEqual(want)
    }
    // GNU tar lists pax records for the long and non-ASCII names, and owner 0/0, in tree order.
    const listing = run('tar', ['tvf', a], {env: UTF8}).trim().split('\n')
    expect(listing[0]).toMatch(/^-rw-r--r-- 0\/0 +6 \S+ \S+ a\.txt$/)
    expect(listing.some((l) => l.includes('héllo wörld ✓.txt'))).toBe(true)
    // Deterministic: the same snapshot gives the same bytes, and they are the bytes tar-stream's
    // own pack stream writes for the same entries (velo lays them out with tar-stream's header codec).
    const b = join(dir, 'b.tar')
    await exportToFile(repo, s.id, b)
    expect(sha(b)).toBe(sha(a))
    expect(sha(a)).toBe(createHash('sha256').update(await packedByTarStream(src, repo.readSnapshot(s.id).time)).digest('hex'))
  })

  it('writes gzip and zstd archives that gzip and zstd decompress to the plain archive; streams large files', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    makeTree(src, {'a.txt': 'a'.repeat(10000), sub: {'b.txt': 'b\n'}, 'large.bin': Buffer.alloc(17 << 20, 7)})
    await snapshot(repo, {dir: src, ref: 'z'})
    await exportToFile(repo, 'z', join(dir, 'p.tar'))
    await exportToFile(repo, 'z', join(dir, 'p.tar.gz'), 'gzip')
    await exportToFile(repo, 'z', join(dir, 'p.tar.zst'), 'zstd')
    const plain = readFileSync(join(dir, 'p.tar'))
    expect(runBinary('gzip', ['-dc', join(dir, 'p.tar.gz')]).equals(plain)).toBe(true)
    expect(runBinary('zstd', ['-dcq', join(dir, 'p.tar.zst')]).equals(plain)).toBe(true)
    const out = join(dir, 'out')
    mkdirSync(out)
    run('tar', ['-xf', join(dir, 'p.tar.zst'), '-C', out])
    expect(describeTree(out)).toEqual(describeTree(src))
  })

  it('refuses to export damaged contents (ERR_VELO_CORRUPT)', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    makeTree(src, {'a.bin': randomBytes(100_000), 'b.txt': 'b'})
    await snapshot(repo, {dir: src, ref: 'd'})
    const pack = readdirSync(repo.packsDir).find((f) => f.startsWith('d-') && f.endsWith('.pack'))!
    const bytes = readFileSync(join(repo.packsDir, pack))
    bytes[bytes.length >> 1] ^= 0xff
    chmodSync(join(repo.packsDir, pack), 0o644) // packs are read-only
    writeFileSync(join(repo.packsDir, pack), bytes)
    const fresh = Repository.open(repo.root)
    await expect(exportToFile(fresh, 'd', join(dir, 'd.tar'))).rejects.toMatchObject({code: 'ERR_VELO_CORRUPT'})
    fresh.close()
  })

  it('exports one directory of a snapshot with REV:PATH', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    makeTree(src, {top: 'x', sub: {'b.txt': 'b\n', inner: {'c.sh': {exec: 'c'}}}})
    await snapshot(repo, {dir: src, ref: 'p'})
    await exportToFile(repo, 'p:sub', join(dir, 'sub.tar'))
    const out = join(dir, 'out')
    mkdirSync(out)
    run('tar', ['-xf', join(dir, 'sub.tar'), '-C', out])
    expect(describeTree(out)).toEqual(describeTree(join(src, 'sub')))
  })
})

describe('velo import tar', () => {
  it('reads GNU, pax, ustar and bsdtar archives, plain, gzip and zstd, to exactly the tree', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    richTree(src)
    const simple = join(dir, 'simple')
    makeTree(simple, {'a.txt': 'a\n', 'e': '', 'x.sh': {exec: 'x'}, 'l': {symlink: 'a.txt'}, d: {'b.txt': 'b'}, empty: {}})
    const cases: {name: string; tree: string; make: (file: string, from: string) => void}[] = [
      {name: 'gnu.tar', tree: src, make: (f, from) => run('tar', ['--format=gnu', '-cf', f, '-C', from, '.'], {env: UTF8})},
      {name: 'pax.tar', tree: src, make: (f, from) => run('tar', ['--format=posix', '-cf', f, '-C', from, '.'], {env: UTF8})},
      {name: 'ustar.tar', tree: simple, make: (f, from) => run('tar', ['--format=ustar', '-cf', f, '-C', from, '.'])},
      {name: 'v7.tar', tree: simple, make: (f, from) => run('tar', ['--format=v7', '-cf', f, '-C', from, '.'])},
      {name: 'bsd.tar', tree: src, make: (f, from) => run('bsdtar', ['-cf', f, '-C', from, '.'], {env: UTF8})},
      {name: 'gnu.tar.gz', tree: src, make: (f, from) => run('tar', ['-czf', f, '-C', from, '.'], {env: UTF8})},
      {name: 'gnu.tar.zst', tree: src, make: (f, from) => run('tar', ['--zstd', '-cf', f, '-C', from, '.'], {env: UTF8})},
      {name: 'bsd.tar.gz', tree: src, make: (f, from) => run('bsdtar', ['-czf', f, '-C', from, 'a.txt', 'sub', 'big.bin'], {env: UTF8})},
    ]
    for (const c of cases) {
      const file = join(dir, c.name)
      c.make(file, c.tree)
      const r = await importTar(repo, {file, ref: `t/${c.name}`})
      expect(r.compression, c.name).toBe(c.name.endsWith('.gz') ? 'gzip' : c.name.endsWith('.zst') ? 'zstd' : 'none')
      const out = join(dir, `out-${c.name}`)
      restoreTree(repo, r.tree, out)
      const want = c.name === 'bsd.tar.gz' ? describeTree(c.tree, (p) => !/^(a\.txt|sub|big\.bin)(\/|$)/.test(p)) : describeTree(c.tree)
      expect(describeTree(out), c.name).toEqual(want)
    }
  })

  it('imports an exported archive to the very same tree', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    richTree(src)
    const s = await snapshot(repo, {dir: src, ref: 'rich'})
    await exportToFile(repo, 'rich', join(dir, 'rich.tar.zst'), 'zstd')
    const r = await importTar(repo, {file: join(dir, 'rich.tar.zst'), ref: 'back'})
    expect(r.tree).toBe(s.tree)
    expect(r.newObjects).toBe(1) // only the snapshot itself: every content and tree was already stored
  })

  it('stores a large archive in worker threads exactly as a snapshot of the tree would', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    const big = randomBytes(3 << 20)
    const spec: TreeSpec = {'big.bin': big, 'big-copy.bin': big, 'tail.bin': Buffer.concat([big, Buffer.from('x')])}
    for (let d = 0; d < 6; d++) {
      const sub: TreeSpec = {}
      for (let f = 0; f < 100; f++) sub[`f${f}.txt`] = f % 10 === 0 ? 'same content\n' : `dir ${d} file ${f}\n`.repeat(f + 1)
      spec[`d${d}`] = sub
    }
    makeTree(src, spec)
    linkSync(join(src, 'big.bin'), join(src, 'd0', 'hard.bin'))
    run('tar', ['-czf', join(dir, 'src.tar.gz'), '-C', src, '.'])
    // Imported first, into an empty repository: every content is new and goes through the workers.
    const r = await importTar(repo, {file: join(dir, 'src.tar.gz'), ref: 'imported'})
    expect(r.hardlinks).toBe(1)
    const s = await snapshot(repo, {dir: src, ref: 'snap'})
    expect(s.tree).toBe(r.tree)
    expect(s.newObjects).toBe(1) // only the snapshot object: the import stored every content and tree as the snapshot would
    const out = join(dir, 'out')
    restoreTree(repo, r.tree, out)
    expect(describeTree(out)).toEqual(describeTree(src))
  })

  it('turns hard links into files with their content, skips fifos with a warning, reads from a stream', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    makeTree(src, {'a.txt': 'shared\n', sub: {}})
    linkSync(join(src, 'a.txt'), join(src, 'sub', 'hard.txt'))
    run('mkfifo', [join(src, 'pipe')])
    for (const tool of ['tar', 'bsdtar']) {
      const file = join(dir, `${tool}.tar`)
      run(tool, ['-cf', file, '-C', src, '.'])
      const warnings: string[] = []
      const r = await importTar(repo, {file: '-', input: Readable.from([readFileSync(file)]), ref: `hl/${tool}`, onWarning: (m) => warnings.push(m)})
      expect(r.hardlinks, tool).toBe(1)
      expect(r.skipped).toEqual([{path: 'pipe', reason: 'fifo'}])
      expect(warnings.join('\n')).toMatch(/skipped pipe: a fifo/)
      const out = join(dir, `out-${tool}`)
      restoreTree(repo, r.tree, out)
      expect(readFileSync(join(out, 'sub', 'hard.txt'), 'utf8')).toBe('shared\n')
      expect(describeTree(out)).toEqual(describeTree(src, (p) => p === 'pipe'))
    }
  })

  it('refuses hostile archives and records nothing', async () => {
    const {repo, dir} = newRepo()
    const U = 'ERR_VELO_UNSAFE_PATH'
    const f = (name: string, content = 'x'): RawEntry => ({name, content})
    await expectRefused(repo, dir, [f('/etc/evil')], U, /absolute path/)
    await expectRefused(repo, dir, [f('../evil')], U, /climbs out/)
    await expectRefused(repo, dir, [f('a/../../evil')], U, /climbs out/)
    await expectRefused(repo, dir, [f('ok'), f('ok')], U, /duplicate entry ok/)
    await expectRefused(repo, dir, [{name: 'd', type: '5'}, f('d')], U, /duplicate entry d/)
    await expectRefused(repo, dir, [{name: 'l', type: '2', linkname: 'sub'}, f('l/evil')], U, /goes through the symlink l/)
    await expectRefused(repo, dir, [{name: 'l', type: '2', linkname: '/etc'}, f('l/passwd')], U, /goes through the symlink l/)
    await expectRefused(repo, dir, [f('file'), f('file/inner')], U, /not a directory/)
    await expectRefused(repo, dir, [{name: 'esc', type: '2', linkname: '../../etc/passwd'}], U, /symlink esc points outside/)
    await expectRefused(repo, dir, [{name: 'abs', type: '2', linkname: '/etc/passwd'}], U, /symlink abs points outside/)
    // Escapes through the archive's own symlinks: each link alone stays inside.
    await expectRefused(repo, dir, [{name: 'a/b/up', type: '2', linkname: '../..'}, {name: 'esc', type: '2', linkname: 'a/b/up/..'}], U, /symlink esc points outside/)
    await expectRefused(repo, dir, [{name: 'h', type: '1', linkname: '../etc/passwd'}], U, /hard link h points outside/)
    await expectRefused(repo, dir, [{name: 'h', type: '1', linkname: '/etc/passwd'}], U, /hard link h points outside/)
    await expectRefused(repo, dir, [{name: 'h', type: '1', linkname: 'missing'}], U, /not in the archive/)
    await expectRefused(repo, dir, [{name: 'd', type: '5'}, {name: 'h', type: '1', linkname: 'd'}], U, /points to the directory d/)
    await expectRefused(repo, dir, [{name: 'x', pax: {path: '../evil'}, content: 'x'}], U, /climbs out/)
    await expectRefused(repo, dir, [f('layer/.wh.gone')], 'ERR_VELO_USAGE', /OCI layer with whiteouts/)
  })

  it('keeps symlinks that point outside with allowOutsideSymlinks, and inside ones always', async () => {
    const {repo, dir} = newRepo()
    const file = join(dir, 'links.tar')
    writeFileSync(file, rawTar([{name: 'abs', type: '2', linkname: '/usr/bin/env'}, {name: 'd/in', type: '2', linkname: '../x/../abs'}, {name: 'loop', type: '2', linkname: 'loop'}]))
    await expect(importTar(repo, {file, ref: 'l'})).rejects.toThrow(/symlink abs points outside/)
    const r = await importTar(repo, {file, ref: 'l', allowOutsideSymlinks: true})
    expect(r.symlinks).toBe(3)
    const ok = join(dir, 'ok.tar')
    writeFileSync(ok, rawTar([{name: 'd/in', type: '2', linkname: '../x/../f'}, {name: 'loop', type: '2', linkname: 'loop'}, {name: 'f', content: 'f'}]))
    expect((await importTar(repo, {file: ok, ref: 'ok'})).symlinks).toBe(2)
  })

  it('reports damaged and unsupported input clearly', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    makeTree(src, {'a.txt': 'a'.repeat(5000)})
    run('tar', ['-cf', join(dir, 'ok.tar'), '-C', src, '.'])
    const whole = readFileSync(join(dir, 'ok.tar'))
    writeFileSync(join(dir, 'cut.tar'), whole.subarray(0, 1024 + 512))
    await expect(importTar(repo, {file: join(dir, 'cut.tar'), ref: 'c'})).rejects.toMatchObject({code: 'ERR_VELO_CORRUPT'})
    writeFileSync(join(dir, 'junk.tar'), Buffer.alloc(2048, 'j'))
    await expect(importTar(repo, {file: join(dir, 'junk.tar'), ref: 'c'})).rejects.toMatchObject({code: 'ERR_VELO_CORRUPT'})
    run('xz', ['-k', join(dir, 'ok.tar')])
    await expect(importTar(repo, {file: join(dir, 'ok.tar.xz'), ref: 'c'})).rejects.toMatchObject({code: 'ERR_VELO_USAGE', message: expect.stringMatching(/xz-compressed/)})
    await expect(importTar(repo, {file: join(dir, 'nope.tar'), ref: 'c'})).rejects.toMatchObject({code: 'ERR_VELO_NOT_FOUND'})
    writeFileSync(join(dir, 'sparse.tar'), rawTar([{name: 's', pax: {'GNU.sparse.major': '1', 'GNU.sparse.minor': '0'}, content: 'x'}]))
    await expect(importTar(repo, {file: join(dir, 'sparse.tar'), ref: 'c'})).rejects.toThrow(/sparse/)
    expect(repo.refs.read('c')).toBeUndefined()
  })
})

describe('OCI layers (whiteouts)', () => {
  it('applies .wh.NAME and .wh..wh..opq on top of --base, as overlay would', async () => {
    const {repo, dir} = newRepo()
    const lower = join(dir, 'lower')
    makeTree(lower, {
      etc: {'keep.conf': 'k', 'gone.conf': 'g'},
      opaque: {'old1': '1', old2: {deep: 'd'}},
      'rm-me': 'x',
      'rm-dir': {inner: 'i'},
      'replace-me': {x: 'x'},
      bin: {tool: {exec: 't'}},
      'a.txt': 'base',
    })
    const base = await snapshot(repo, {dir: lower, ref: 'img'})
    // The layer as a real tool writes it: a directory holding .wh. files, tarred by GNU tar.
    const layer = join(dir, 'layer')
    makeTree(layer, {
      etc: {'.wh.gone.conf': '', 'new.conf': 'n'},
      opaque: {'.wh..wh..opq': '', 'fresh': 'f'},
      '.wh.rm-me': '',
      '.wh.rm-dir': '',
      '.wh.replace-me': '',
      'replace-me': {y: 'y'},
      'a.txt': 'layer',
      'hard': 'content',
    })
    run('tar', ['-cf', join(dir, 'layer.tar'), '-C', layer, '.'])
    const r = await importTar(repo, {file: join(dir, 'layer.tar'), ref: 'img', base: 'img'})
    expect(r.whiteouts).toBe(5)
    expect(r.parent).toBe(base.id)
    const out = join(dir, 'out')
    restoreTree(repo, r.tree, out)
    const want = join(dir, 'want')
    makeTree(want, {
      etc: {'keep.conf': 'k', 'new.conf': 'n'},
      opaque: {fresh: 'f'},
      'replace-me': {y: 'y'},
      bin: {tool: {exec: 't'}},
      'a.txt': 'layer',
      hard: 'content',
    })
    expect(describeTree(out)).toEqual(describeTree(want))
  })

  it('resolves hard links to files of the base, and refuses entries through a symlink of the base', async () => {
    const {repo, dir} = newRepo()
    const lower = join(dir, 'lower')
    makeTree(lower, {lib: {'libx.so.1': 'elf'}, link: {symlink: 'lib'}})
    await snapshot(repo, {dir: lower, ref: 'b'})
    const ok = join(dir, 'ok.tar')
    writeFileSync(ok, rawTar([{name: 'lib/libx.so', type: '1', linkname: 'lib/libx.so.1'}]))
    const r = await importTar(repo, {file: ok, ref: 'b2', base: 'b'})
    const out = join(dir, 'out')
    restoreTree(repo, r.tree, out)
    expect(readFileSync(join(out, 'lib', 'libx.so'), 'utf8')).toBe('elf')
    await expectRefused(repo, dir, [{name: 'link/evil', content: 'x'}], 'ERR_VELO_UNSAFE_PATH', /through a symlink of the base/, {base: 'b'})
    // An explicit directory entry replaces the base's symlink (as extracting the layer would).
    const rep = join(dir, 'rep.tar')
    writeFileSync(rep, rawTar([{name: 'link', type: '5'}, {name: 'link/file', content: 'f'}]))
    const r2 = await importTar(repo, {file: rep, ref: 'b3', base: 'b'})
    const out2 = join(dir, 'out2')
    restoreTree(repo, r2.tree, out2)
    expect(describeTree(out2)).toContain('link dir')
  })
})
