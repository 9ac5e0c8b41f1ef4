/**
 * `velo checkout`, `velo unmount`, `velo mounts`, and `velo snapshot`/`velo diff` on a mount, with
 * real FUSE mounts served by the background process the CLI starts (so this test process may use
 * synchronous fs calls on them). Skipped only when FUSE is unusable and VELO_TEST_FUSE is not 1.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {
  appendFileSync, chmodSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync,
  rmSync, rmdirSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync,
} from 'node:fs'
import {dirname, join} from 'node:path'
import {describe, expect, it, onTestFinished} from 'vitest'
import {fuseTestsEnabled, mountScratch, mountsUnder, processesUnder, waitFor} from '../helpers/mounts.js'
import {makeTree, walkTree, writeRandomFile} from '../helpers/trees.js'
import {BIN, ROOT, lastLine, velo, veloOk} from '../helpers/velo.js'

const SPEC = {
  'a.txt': 'hello\n',
  'run.sh': {exec: '#!/bin/sh\necho hi\n'},
  link: {symlink: 'a.txt'},
  dangling: {symlink: 'nowhere/x'},
  'empty-file': '',
  empty: {dir: {}},
  sub: {dir: {deep: {dir: {f: 'deep\n', g: 'gee\n'}}, 's.txt': 'sss\n'}},
  d: {dir: {one: '1\n', two: '2\n'}},
  pkg: {dir: {'package.json': '{"name":"pkg","version":"1.0.0","main":"index.js"}\n', 'index.js': 'module.exports = (s) => `<${s}>`\n'}},
}

interface Fixture {
  root: string
  src: string
  repo: string
  id: string
}

function fixture(prefix: string): Fixture {
  const root = mountScratch(prefix)
  const src = join(root, 'src')
  makeTree(src, SPEC)
  writeRandomFile(join(src, 'big.bin'), 3_000_000, 'checkout-big')
  const repo = join(root, 'repo')
  const id = lastLine(veloOk(['snapshot', src, '--repo', repo, '--ref', 'base']).stdout)
  return {root, src, repo, id}
}

interface Record {
  id: string
  snapshot: string
  mountpoint: string
  upper: string | null
  pid: number
  readOnly: boolean
  trace: string
  log: string
}

function checkout(f: Fixture, mnt: string, ...extra: string[]): Record {
  mkdirSync(mnt, {recursive: true})
  const r = veloOk(['checkout', 'base', mnt, '--repo', f.repo, '--json', ...extra])
  return JSON.parse(r.stdout) as Record
}

function unmount(f: Fixture, mnt: string, ...extra: string[]): void {
  veloOk(['unmount', mnt, '--repo', f.repo, ...extra])
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** tar of a tree with owners, times and order normalised: equal trees give equal bytes. */
function normalTar(dir: string): Buffer {
  return execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', '-', '-C', dir, '.'], {maxBuffer: 64 << 20})
}

describe.skipIf(!fuseTestsEnabled())('velo checkout (real FUSE)', () => {
  it('mounts a snapshot equal to its source: diff -r, modes, symlinks, tar; lists and unmounts it', () => {
    const f = fixture('velo-co-eq-')
    const mnt = join(f.root, 'mnt')
    const rec = checkout(f, mnt)
    expect(rec).toMatchObject({snapshot: f.id, mountpoint: mnt, readOnly: false})
    expect(mountsUnder(mnt)).toEqual([{mountpoint: mnt, fstype: 'fuse.velo'}])
    execFileSync('diff', ['-r', '--no-dereference', f.src, mnt])
    expect(walkTree(mnt)).toEqual(walkTree(f.src))
    expect(readlinkSync(join(mnt, 'dangling'))).toBe('nowhere/x')
    expect(statSync(join(mnt, 'run.sh')).mode & 0o777).toBe(0o755)
    expect(statSync(join(mnt, 'a.txt')).mode & 0o777).toBe(0o644)
    expect(statSync(join(mnt, 'sub')).mode & 0o777).toBe(0o755)
    expect(statSync(join(mnt, 'a.txt')).uid).toBe(process.getuid!())
    expect(normalTar(mnt).equals(normalTar(f.src))).toBe(true)
    // a range in the middle of the chunked file
    const fd = execFileSync('dd', [`if=${join(mnt, 'big.bin')}`, 'bs=1000', 'skip=2100', 'count=50', 'status=none'])
    expect(fd.equals(readFileSync(join(f.src, 'big.bin')).subarray(2_100_000, 2_150_000))).toBe(true)
    const listed = JSON.parse(veloOk(['mounts', '--repo', f.repo, '--json']).stdout) as Record[]
    expect(listed.map((m) => [m.mountpoint, m.snapshot, m.pid])).toEqual([[mnt, f.id, rec.pid]])
    expect(veloOk(['mounts', '--repo', f.repo]).stdout).toContain(mnt)
    unmount(f, mnt)
    expect(mountsUnder(mnt)).toEqual([])
    expect(alive(rec.pid)).toBe(false)
    expect(JSON.parse(veloOk(['mounts', '--repo', f.repo, '--json']).stdout)).toEqual([])
    expect(readdirSync(mnt)).toEqual([])
    // the access trace: files whose data was read, in order of first access
    const trace = readFileSync(rec.trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string)
    expect(trace.slice(0, 3)).toEqual(['a.txt', 'big.bin', 'd/one'])
    expect(new Set(trace)).toEqual(new Set(['a.txt', 'big.bin', 'd/one', 'd/two', 'pkg/index.js', 'pkg/package.json', 'run.sh', 'sub/deep/f', 'sub/deep/g', 'sub/s.txt']))
  })

  it('puts every change in the upper layer, keeps it across a remount, and snapshots and diffs the mount', () => {
    const f = fixture('velo-co-rw-')
    const mnt = join(f.root, 'mnt')
    const upper = join(f.root, 'upper')
    checkout(f, mnt, '--upper', upper)
    writeFileSync(join(mnt, 'a.txt'), 'rewritten\n') // O_TRUNC + write
    appendFileSync(join(mnt, 'd/one'), 'appended\n')
    truncateSync(join(mnt, 'sub/s.txt'), 2)
    writeFileSync(join(mnt, 'new.txt'), 'new\n')
    unlinkSync(join(mnt, 'd/two'))
    renameSync(join(mnt, 'run.sh'), join(mnt, 'run2.sh'))
    renameSync(join(mnt, 'sub'), join(mnt, 'sub-moved'))
    chmodSync(join(mnt, 'a.txt'), 0o755)
    symlinkSync('new.txt', join(mnt, 'new-link'))
    mkdirSync(join(mnt, 'made/deeper'), {recursive: true})
    writeFileSync(join(mnt, 'made/deeper/x'), 'x\n')
    rmdirSync(join(mnt, 'empty'))
    linkSync(join(mnt, 'new.txt'), join(mnt, 'new-hard'))
    // an editor's save: write a temp file, rename it over the original
    execFileSync('sed', ['-i', 's/deep/DEEP/', join(mnt, 'sub-moved/deep/f')])
    const expected = walkTree(mnt)
    expect(readFileSync(join(mnt, 'sub-moved/deep/f'), 'utf8')).toBe('DEEP\n')
    expect(statSync(join(mnt, 'new-hard')).nlink).toBe(2)
    // the snapshot is unchanged
    expect(veloOk(['cat', 'base:a.txt', '--repo', f.repo]).stdout).toBe('hello\n')
    const diff = veloOk(['diff', 'base', mnt, '--repo', f.repo]).stdout.trim().split('\n')
    expect(diff).toEqual(
      expect.arrayContaining(['M\ta.txt', 'M\td/one', 'D\td/two', 'D\trun.sh', 'A\trun2.sh', 'A\tnew.txt', 'A\tmade/deeper/x', 'D\tempty/', 'D\tsub/deep/f', 'A\tsub-moved/deep/f']),
    )
    unmount(f, mnt)
    expect(readdirSync(mnt)).toEqual([])
    // remount the same upper: everything is where it was
    checkout(f, mnt, '--upper', upper)
    expect(walkTree(mnt)).toEqual(expected)
    expect(readFileSync(join(mnt, 'd/one'), 'utf8')).toBe('1\nappended\n')
    // velo snapshot MNT: a new snapshot whose parent is the mounted one, equal to the mount
    const snap = JSON.parse(veloOk(['snapshot', mnt, '--repo', f.repo, '--ref', 'changed', '--json']).stdout.trim().split('\n').pop()!)
    expect(snap.parent).toBe(f.id)
    expect(snap.mount).toMatchObject({mountpoint: mnt, snapshot: f.id, upper})
    const show = JSON.parse(veloOk(['show', 'changed', '--repo', f.repo, '--json']).stdout)
    expect(show.parents).toEqual([f.id])
    const out = join(f.root, 'restored')
    veloOk(['restore', 'changed', out, '--repo', f.repo])
    execFileSync('diff', ['-r', '--no-dereference', mnt, out])
    // the same tree as an ordinary snapshot of the same files
    const plain = JSON.parse(veloOk(['snapshot', out, '--repo', f.repo, '--ref', 'plain', '--json']).stdout.trim().split('\n').pop()!)
    expect(plain.tree).toBe(snap.tree)
    // a second snapshot of the mount follows the first
    writeFileSync(join(mnt, 'later.txt'), 'later\n')
    const snap2 = JSON.parse(veloOk(['snapshot', mnt, '--repo', f.repo, '--ref', 'changed', '--json']).stdout.trim().split('\n').pop()!)
    expect(snap2.parent).toBe(snap.id)
    unmount(f, mnt, '--discard')
    expect(existsSync(upper)).toBe(false)
  })

  it('keeps two mounts of one snapshot apart, and runs ten at once', async () => {
    const f = fixture('velo-co-many-')
    const mnts = Array.from({length: 10}, (_, i) => join(f.root, `m${i}`))
    for (const m of mnts) mkdirSync(m)
    // started together, as agents would
    const recs = (await Promise.all(mnts.map((m) => veloAsync(['checkout', 'base', m, '--repo', f.repo, '--json'])))).map((out) => JSON.parse(out) as Record)
    expect(new Set(recs.map((r) => r.upper)).size).toBe(10)
    for (let i = 0; i < 10; i++) writeFileSync(join(mnts[i], 'a.txt'), `mount ${i}\n`)
    unlinkSync(join(mnts[1], 'd/one'))
    for (let i = 0; i < 10; i++) expect(readFileSync(join(mnts[i], 'a.txt'), 'utf8')).toBe(`mount ${i}\n`)
    expect(existsSync(join(mnts[0], 'd/one'))).toBe(true)
    expect(existsSync(join(mnts[1], 'd/one'))).toBe(false)
    expect(JSON.parse(veloOk(['mounts', '--repo', f.repo, '--json']).stdout)).toHaveLength(10)
    await Promise.all(mnts.map((m) => veloAsync(['unmount', m, '--repo', f.repo, '--discard'])))
    expect(mountsUnder(f.root)).toEqual([])
    for (const r of recs) expect(alive(r.pid)).toBe(false)
  })

  it('serves real tools: node require, npm install, git, editors', () => {
    const f = fixture('velo-co-tools-')
    // a node_modules snapshot with one package, mounted where node looks for it
    const proj = join(f.root, 'proj')
    const nm = join(proj, 'node_modules')
    makeTree(join(f.root, 'nm'), {pkg: {dir: SPEC.pkg.dir}})
    veloOk(['snapshot', join(f.root, 'nm'), '--repo', f.repo, '--ref', 'nm'])
    mkdirSync(nm, {recursive: true})
    veloOk(['checkout', 'nm', nm, '--repo', f.repo])
    writeFileSync(join(proj, 'package.json'), '{"name":"proj","version":"1.0.0","dependencies":{"pkg":"1.0.0"}}\n')
    expect(execFileSync(process.execPath, ['-e', 'console.log(require("pkg")("x"))'], {cwd: proj, encoding: 'utf8'})).toBe('<x>\n')
    // npm install of a local package (a tarball: no registry needed) writes into the mount
    const local = join(f.root, 'local')
    makeTree(local, {'package.json': '{"name":"local","version":"2.0.0","main":"i.js"}\n', 'i.js': 'module.exports = 42\n'})
    const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', f.root], {cwd: local, encoding: 'utf8'}).trim().split('\n').pop()!
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', join(f.root, tgz)], {cwd: proj, stdio: 'pipe'})
    expect(execFileSync(process.execPath, ['-e', 'console.log(require("local"), require("pkg")("y"))'], {cwd: proj, encoding: 'utf8'})).toBe('42 <y>\n')
    expect(veloOk(['diff', 'nm', nm, '--repo', f.repo]).stdout).toContain('A\tlocal/i.js')
    veloOk(['unmount', nm, '--repo', f.repo])
    // git in a mount
    const mnt = join(f.root, 'mnt')
    checkout(f, mnt)
    const git = (...args: string[]): string =>
      execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], {cwd: mnt, encoding: 'utf8'})
    git('init', '-q')
    git('add', '-A')
    git('commit', '-qm', 'snapshot contents')
    expect(git('status', '--porcelain')).toBe('')
    writeFileSync(join(mnt, 'a.txt'), 'changed\n')
    expect(git('status', '--porcelain')).toBe(' M a.txt\n')
    git('commit', '-qam', 'change')
    expect(git('log', '--format=%s')).toBe('change\nsnapshot contents\n')
    execFileSync('git', ['fsck', '--strict'], {cwd: mnt, stdio: 'pipe'})
    unmount(f, mnt)
  })

  it('mounts read-only, and serves in the foreground until SIGINT', async () => {
    const f = fixture('velo-co-ro-')
    const ro = join(f.root, 'ro')
    const rec = checkout(f, ro, '--read-only')
    expect(rec).toMatchObject({readOnly: true, upper: null})
    expect(() => writeFileSync(join(ro, 'a.txt'), 'x')).toThrow(/EROFS/)
    expect(() => mkdirSync(join(ro, 'n'))).toThrow(/EROFS/)
    expect(readFileSync(join(ro, 'a.txt'), 'utf8')).toBe('hello\n')
    unmount(f, ro)
    const fg = join(f.root, 'fg')
    mkdirSync(fg)
    const child = spawn(process.execPath, [BIN, 'checkout', 'base', fg, '--repo', f.repo, '--foreground'], {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    await waitFor(() => out.includes('mounted'), 30_000, 'the foreground mount')
    expect(mountsUnder(fg)).toHaveLength(1)
    expect(await new Promise<string>((r) => execFileCb('cat', [join(fg, 'sub/deep/f')], r))).toBe('deep\n')
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(mountsUnder(fg)).toEqual([])
  })

  it('reports each error in one line with a hint, and leaves no stale mount or process', async () => {
    const f = fixture('velo-co-err-')
    const err = (args: string[], env?: {[k: string]: string}): {code: number; error: {code: string; message: string; hint?: string}} => {
      const r = velo([...args, '--repo', f.repo, '--json'], {env})
      const line = r.stdout.trim().split('\n').pop() ?? ''
      return {code: r.code, error: (JSON.parse(line) as {error: {code: string; message: string; hint?: string}}).error}
    }
    const missing = err(['checkout', 'base', join(f.root, 'nope')])
    expect(missing).toMatchObject({code: 16, error: {code: 'ERR_VELO_NOT_FOUND'}})
    expect(missing.error.hint).toMatch(/mkdir/)
    mkdirSync(join(f.root, 'full'))
    writeFileSync(join(f.root, 'full', 'x'), 'x')
    expect(err(['checkout', 'base', join(f.root, 'full')])).toMatchObject({code: 2, error: {code: 'ERR_VELO_TARGET_NOT_EMPTY'}})
    mkdirSync(join(f.root, 'm'))
    expect(err(['checkout', 'nosuchrev', join(f.root, 'm')])).toMatchObject({code: 16, error: {code: 'ERR_VELO_NOT_FOUND'}})
    checkout(f, join(f.root, 'm'))
    expect(err(['checkout', 'base', join(f.root, 'm')])).toMatchObject({code: 15, error: {code: 'ERR_VELO_MOUNT', message: expect.stringMatching(/already mounted/)}})
    // busy: a process has its working directory in the mount
    const sleeper = spawn('sleep', ['60'], {cwd: join(f.root, 'm', 'sub'), stdio: 'ignore'})
    await waitFor(() => existsSync(`/proc/${sleeper.pid}/cwd`), 5000, 'sleep')
    const busy = err(['unmount', join(f.root, 'm')])
    expect(busy).toMatchObject({code: 15, error: {code: 'ERR_VELO_MOUNT_BUSY'}})
    expect(busy.error.hint).toMatch(/--force/)
    expect(mountsUnder(join(f.root, 'm'))).toHaveLength(1)
    sleeper.kill()
    await new Promise((r) => sleeper.on('exit', r))
    unmount(f, join(f.root, 'm'))
    expect(err(['unmount', join(f.root, 'm')])).toMatchObject({code: 15, error: {code: 'ERR_VELO_MOUNT', message: expect.stringMatching(/not a velo mount/)}})
    // the server does not answer in time: it is killed, nothing stays mounted
    expect(err(['checkout', 'base', join(f.root, 'm')], {VELO_MOUNT_TIMEOUT_MS: '1'})).toMatchObject({code: 15, error: {code: 'ERR_VELO_MOUNT'}})
    // the repository lost the snapshot's objects
    for (const p of readdirSync(join(f.repo, 'packs'))) if (p.startsWith('m-')) rmSync(join(f.repo, 'packs', p))
    const lost = err(['checkout', 'base', join(f.root, 'm')])
    expect(lost).toMatchObject({code: 13, error: {code: 'ERR_VELO_CORRUPT', message: expect.stringMatching(/missing/)}})
    expect(lost.error.hint).toMatch(/velo fsck/)
    // nothing left behind by the failures
    await waitFor(() => processesUnder(f.root).length === 0, 5000, 'no server process')
    expect(mountsUnder(f.root)).toEqual([])
    expect(readdirSync(join(f.repo, 'mounts', 'active'))).toEqual([])
    // failed starts leave at most their log (kept when the server died or timed out, so the error can point to it)
    for (const d of readdirSync(join(f.repo, 'mounts'))) {
      if (d === 'active') continue
      const files = readdirSync(join(f.repo, 'mounts', d))
      if (!files.includes('mount.json')) expect(files.filter((x) => x !== 'serve.log')).toEqual([])
    }
  })

  it.runIf(process.getuid?.() === 0)('says which packages to install when libfuse2 is missing', () => {
    const f = fixture('velo-co-nolib-')
    const mnt = join(f.root, 'm')
    mkdirSync(mnt)
    const lib = execFileSync('ldconfig', ['-p'], {encoding: 'utf8'}).match(/libfuse\.so\.2 .*=> (\S+)/)![1]
    // Hide the library in a private mount namespace, as on a machine without libfuse2.
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind /dev/null ${lib} && exec "$@"`, 'sh', process.execPath, BIN, 'checkout', 'base', mnt, '--repo', f.repo], {
      encoding: 'utf8',
      env: {...process.env, VELO_FSYNC: '0'},
    })
    expect(r.status).toBe(15)
    expect(r.stderr).toMatch(/^velo: error: FUSE is not usable: libfuse\.so\.2 is not installed\nhint: .*apt-get install libfuse2 fuse3/)
    expect(mountsUnder(f.root)).toEqual([])
  })

  it('works for an ordinary user: mount, write, snapshot, unmount', () => {
    const root = process.getuid?.() === 0
    const user = {uid: 65534, gid: 65534}
    const dir = mountScratch('velo-co-user-', root ? user : undefined)
    const as = root ? user : {}
    const run = (args: string[]): {status: number | null; stdout: string; stderr: string} =>
      spawnSync(process.execPath, [BIN, ...args, '--repo', join(dir, 'repo')], {...as, encoding: 'utf8', cwd: dir, env: {...process.env, HOME: dir, VELO_FSYNC: '0'}})
    const ok = (args: string[]): string => {
      const r = run(args)
      if (r.status !== 0) throw new Error(`velo ${args.join(' ')}: exit ${r.status}\n${r.stderr}`)
      return r.stdout
    }
    const shell = (cmd: string): string => execFileSync('sh', ['-c', cmd], {...as, encoding: 'utf8', cwd: dir})
    if (root) {
      // The other user must reach velo itself: let it traverse the directories above the checkout.
      for (let d = ROOT; d !== dirname(d); d = dirname(d)) {
        const m = statSync(d).mode & 0o777
        if ((m & 0o001) === 0) {
          chmodSync(d, m | 0o001)
          onTestFinished(() => chmodSync(d, m))
        }
      }
    }
    shell('mkdir -p src/sub m && echo hi > src/a.txt && echo deep > src/sub/f')
    ok(['snapshot', join(dir, 'src'), '--ref', 'u'])
    const withDevMode = (mode: number, fn: () => void): void => {
      if (!root) return fn()
      const before = statSync('/dev/fuse').mode & 0o777
      chmodSync('/dev/fuse', mode)
      try {
        fn()
      } finally {
        chmodSync('/dev/fuse', before)
      }
    }
    if (root) {
      // /dev/fuse as this machine has it (root only): one clear line saying what to do
      withDevMode(0o600, () => {
        const r = run(['checkout', 'u', join(dir, 'm')])
        expect(r.status).toBe(15)
        expect(r.stderr).toMatch(/no permission to open \/dev\/fuse\nhint: .*chmod 0666 \/dev\/fuse/)
      })
    }
    // as a Debian host has it (udev: 0666)
    withDevMode(0o666, () => {
      const rec = JSON.parse(ok(['checkout', 'u', join(dir, 'm'), '--json']))
      try {
        expect(shell('cat m/sub/f && echo changed > m/a.txt && cat m/a.txt && mkdir m/new && echo n > m/new/n && rm m/sub/f && ls m')).toBe('deep\nchanged\na.txt\nnew\nsub\n')
        expect(shell('stat -c %u m/a.txt')).toBe(`${root ? user.uid : process.getuid!()}\n`)
        const snap = JSON.parse(ok(['snapshot', join(dir, 'm'), '--ref', 'u2', '--json']).trim().split('\n').pop()!)
        expect(snap.parent).toBe(rec.snapshot)
        expect(ok(['diff', 'u', 'u2']).trim().split('\n')).toEqual(['M\ta.txt', 'A\tnew/n', 'D\tsub/f'])
      } finally {
        ok(['unmount', join(dir, 'm')])
      }
      expect(mountsUnder(dir)).toEqual([])
      expect(alive(rec.pid)).toBe(false)
    })
  })
})

/** Runs velo without blocking this process (several at once); resolves with stdout, rejects on failure. */
function veloAsync(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], {env: {...process.env, VELO_FSYNC: '0', NO_COLOR: '1'}})
    let out = ''
    let err = ''
    c.stdout.on('data', (d) => (out += d))
    c.stderr.on('data', (d) => (err += d))
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`velo ${args.join(' ')} exited ${code}: ${err}`))))
  })
}

function execFileCb(cmd: string, args: string[], done: (out: string) => void): void {
  // Asynchronous: never block this process's event loop on a mount (even one served elsewhere).
  const c = spawn(cmd, args)
  let out = ''
  c.stdout.on('data', (d) => (out += d))
  c.on('exit', () => done(out))
}
