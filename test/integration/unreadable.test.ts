/**
 * Files velo cannot or must not store. An unreadable file (or directory) fails the snapshot with
 * ERR_VELO_UNREADABLE and moves no ref; --skip-unreadable leaves it out with a warning and exit
 * code 3. Sockets, FIFOs and devices are skipped with a warning.
 *
 * Tests run as root, which reads everything: the unreadable cases run velo as the unprivileged
 * user nobody (spawn with uid/gid 65534) on files owned by root with mode 0600.
 */
import {spawnSync} from 'node:child_process'
import {appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {snapshot} from '../../src/api/snapshot.js'
import {Repository} from '../../src/repo/Repository.js'
import {BIN} from '../helpers/velo.js'
import {makeTree, useScratchDir} from '../helpers/trees.js'

const NOBODY = 65534

function veloAsNobody(args: string[], home: string): {code: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    uid: NOBODY,
    gid: NOBODY,
    env: {PATH: process.env.PATH, HOME: home, VELO_FSYNC: '0', NO_COLOR: '1'},
    encoding: 'utf8',
    timeout: 100_000,
  })
  if (r.error) throw r.error
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

describe('unreadable files (velo run as nobody)', () => {
  const scratch = useScratchDir('velo-unreadable-')
  const tree = join(scratch.path, 'tree')
  const repo = join(scratch.path, 'repo')
  const home = join(scratch.path, 'home')

  beforeAll(() => {
    chmodSync(scratch.path, 0o755)
    makeTree(tree, {'ok.txt': 'readable\n', sub: {dir: {'also-ok.txt': 'x'}}, 'secret.txt': 'root only\n'})
    for (const d of [repo, home]) {
      mkdirSync(d)
      chownSync(d, NOBODY, NOBODY)
    }
    // as nobody: a first snapshot while everything is readable
    const r = veloAsNobody(['snapshot', tree, '--repo', repo, '--ref', 'r', '--json'], home)
    expect(r.code, r.stderr).toBe(0)
    chmodSync(join(tree, 'secret.txt'), 0o600)
  })

  afterAll(() => scratch.cleanup())

  const refValue = (): string => readFileSync(join(repo, 'refs', 'r'), 'utf8').trim()
  const reflogLines = (): number => readFileSync(join(repo, 'logs', 'r'), 'utf8').trim().split('\n').length

  it('is an error naming the file, and no ref moves', () => {
    const ref = refValue()
    const log = reflogLines()
    const r = veloAsNobody(['snapshot', tree, '--repo', repo, '--ref', 'r'], home)
    expect(r.code).toBe(17)
    expect(r.stderr).toMatch(/^velo: error: cannot read .*secret\.txt/)
    expect(r.stderr).toMatch(/\nhint: .*--skip-unreadable/)
    expect(r.stdout).toBe('')
    expect(refValue()).toBe(ref)
    expect(reflogLines()).toBe(log)
    const j = veloAsNobody(['snapshot', tree, '--repo', repo, '--ref', 'r', '--json'], home)
    expect(j.code).toBe(17)
    expect(JSON.parse(j.stdout).error.code).toBe('ERR_VELO_UNREADABLE')
    expect(refValue()).toBe(ref)
    // nothing half-written is left visible: temp files only under tmp/
    expect(readdirSync(join(repo, 'refs')).filter((n) => n.endsWith('.lock'))).toEqual([])
  })

  it('an unreadable directory is an error too', () => {
    const locked = join(tree, 'locked-dir')
    mkdirSync(locked)
    writeFileSync(join(locked, 'inside.txt'), 'x')
    chmodSync(locked, 0o700)
    try {
      const ref = refValue()
      const r = veloAsNobody(['snapshot', tree, '--repo', repo, '--ref', 'r', '--json'], home)
      expect(r.code).toBe(17)
      expect(JSON.parse(r.stdout).error.message).toMatch(/locked-dir|secret\.txt/)
      expect(refValue()).toBe(ref)
    } finally {
      chmodSync(locked, 0o755)
      spawnSync('rm', ['-rf', locked])
    }
  })

  it('with --skip-unreadable: a warning per file, exit code 3, a snapshot without it', () => {
    const ref = refValue()
    const r = veloAsNobody(['snapshot', tree, '--repo', repo, '--ref', 'r', '--skip-unreadable', '--json'], home)
    expect(r.code, r.stderr).toBe(3)
    // --json: NDJSON events, a warning event per skipped file, the summary last
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(events.filter((e) => e.type === 'warning').map((e) => e.message)).toEqual([expect.stringMatching(/^skipped .*secret\.txt/)])
    const out = events[events.length - 1] as {type: string; id: string; parent: string; skipped: {path: string}[]}
    expect(out.type).toBe('summary')
    expect(out.skipped.map((x) => x.path)).toEqual([join(tree, 'secret.txt')])
    expect(out.parent).toBe(ref)
    expect(refValue()).toBe(out.id)
    const ls = veloAsNobody(['ls', 'r', '-r', '--json', '--repo', repo], home)
    expect(JSON.parse(ls.stdout).map((e: {path: string}) => e.path)).toEqual(['ok.txt', 'sub', 'sub/also-ok.txt'])
  })

  it('warns again on the next snapshot while the file stays unreadable (the stat cache must not hide it)', () => {
    const h = veloAsNobody(['snapshot', tree, '--repo', repo, '--ref', 'r', '--skip-unreadable'], home)
    expect(h.stdout.trim().split('\n').pop()).toMatch(/^[0-9a-f]{64}$/)
    expect(h.stderr).toMatch(/^velo: warning: skipped .*secret\.txt/m)
    expect(h.code).toBe(3)
  })

  it('stores a skipped file once it is readable again', () => {
    chmodSync(join(tree, 'secret.txt'), 0o644)
    try {
      const r = veloAsNobody(['snapshot', tree, '--repo', repo, '--ref', 'r'], home)
      expect(r.code, r.stderr).toBe(0)
      const ls = veloAsNobody(['ls', 'r', '--json', '--repo', repo], home)
      expect(JSON.parse(ls.stdout).map((e: {path: string}) => e.path)).toEqual(['ok.txt', 'secret.txt', 'sub'])
    } finally {
      chmodSync(join(tree, 'secret.txt'), 0o600)
    }
  })
})

describe('sockets, FIFOs and devices', () => {
  const scratch = useScratchDir('velo-special-')
  const tree = join(scratch.path, 'tree')
  let server: Server

  beforeAll(async () => {
    makeTree(tree, {'regular.txt': 'r', sub: {dir: {}}})
    expect(spawnSync('mkfifo', [join(tree, 'fifo')]).status).toBe(0)
    expect(spawnSync('mknod', [join(tree, 'sub', 'null-device'), 'c', '1', '3']).status).toBe(0)
    server = createServer()
    await new Promise<void>((res) => server.listen(join(tree, 'socket'), res))
  })

  afterAll(async () => {
    await new Promise((res) => server.close(res))
    scratch.cleanup()
  })

  it('are skipped with a warning each, the rest is stored', async () => {
    const repo = Repository.open(join(scratch.path, 'repo'), {create: true})
    try {
      const warnings: string[] = []
      const s = await snapshot(repo, {dir: tree, ref: 'special', onWarning: (w) => warnings.push(w)})
      expect(warnings.sort()).toEqual([
        `skipped ${join(tree, 'fifo')}: FIFO files cannot be stored`,
        `skipped ${join(tree, 'socket')}: socket files cannot be stored`,
        `skipped ${join(tree, 'sub', 'null-device')}: device files cannot be stored`,
      ])
      expect(s.skipped).toEqual([])
      const names = repo.readTree(s.tree).map((e) => e.name)
      expect(names).toEqual(['regular.txt', 'sub'])
      expect(existsSync(join(tree, 'fifo'))).toBe(true) // never opened (opening a FIFO would block)
    } finally {
      repo.close()
    }
  })
})

describe('names that are not UTF-8', () => {
  const scratch = useScratchDir('velo-badname-')
  const tree = join(scratch.path, 'tree')

  beforeAll(() => {
    makeTree(tree, {'ok.txt': 'ok'})
    // Linux names are bytes; tree entries are UTF-8. Node lists this one as "bad\ufffd.txt".
    writeFileSync(Buffer.from(`${tree}/bad\xff.txt`, 'latin1'), 'content that must not vanish')
  })

  afterAll(() => scratch.cleanup())

  it('are never dropped silently: an error, or with skipUnreadable a skipped entry', async () => {
    const repo = Repository.open(join(scratch.path, 'repo'), {create: true})
    try {
      const warnings: string[] = []
      let stored: string[] | undefined
      let error: unknown
      try {
        const s = await snapshot(repo, {dir: tree, ref: 'n', onWarning: (w) => warnings.push(w)})
        stored = repo.readTree(s.tree).map((e) => e.name)
      } catch (err) {
        error = err
      }
      expect({stored, warnings}).toEqual({stored: undefined, warnings: []})
      expect((error as {code?: string}).code).toBe('ERR_VELO_UNREADABLE')
      const s = await snapshot(repo, {dir: tree, ref: 'n', skipUnreadable: true, onWarning: (w) => warnings.push(w)})
      expect(s.skipped.length).toBe(1)
    } finally {
      repo.close()
    }
  })
})

describe('files that change while they are read', () => {
  const scratch = useScratchDir('velo-changing-')
  const tree = join(scratch.path, 'tree')

  beforeAll(() => makeTree(tree, {'aaa-first.log': 'line 1\n', 'b.txt': 'b', sub: {dir: {'c.txt': 'c'}}}))
  afterAll(() => scratch.cleanup())

  it('fail the snapshot with ERR_VELO_CHANGED_WHILE_READING, and no ref moves', async () => {
    const repo = Repository.open(join(scratch.path, 'repo'), {create: true})
    try {
      const first = await snapshot(repo, {dir: tree, ref: 'c'})
      // The walker reports progress while it scans, after lstat'ing the first entry and before any
      // file is read: growing that file then is a change between stat and read.
      let grown = false
      let err: unknown
      try {
        await snapshot(repo, {
          dir: tree,
          ref: 'c',
          onProgress: (p) => {
            if (grown || p.phase !== 'scan') return
            appendFileSync(join(tree, 'aaa-first.log'), 'line 2, written while velo was looking\n')
            grown = true
          },
        })
      } catch (e) {
        err = e
      }
      expect(grown, 'no progress report during the scan: the test could not interfere').toBe(true)
      expect((err as {code?: string})?.code).toBe('ERR_VELO_CHANGED_WHILE_READING')
      expect((err as Error).message).toContain('aaa-first.log')
      expect(repo.refs.read('c')).toBe(first.id)
      // once quiet, it snapshots fine
      expect((await snapshot(repo, {dir: tree, ref: 'c'})).parent).toBe(first.id)
    } finally {
      repo.close()
    }
  })
})
