/**
 * The core commands end to end, through the built CLI: init, snapshot, log, show, ls, cat, diff,
 * restore, ref list|set|delete and the reflog; and the error format (one line, a hint, the exit
 * code; JSON with --json; no stack unless VELO_DEBUG=1) for the failures a user meets.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {chmodSync, chownSync, cpSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {basename, join} from 'node:path'
import {hostname} from 'node:os'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {hash} from '../../src/objects/hash.js'
import {PackIndex} from '../../src/pack/packIndex.js'
import {lastJson} from '../helpers/cli.js'
import {RandomStream, flipByte, makeTree, useScratchDir, walkTree} from '../helpers/trees.js'
import {BIN, velo, veloOk, type VeloRun} from '../helpers/velo.js'

const HEX64 = /^[0-9a-f]{64}$/

/** The error format: exactly two lines on stderr, nothing on stdout, no stack trace. */
function expectError(r: VeloRun, exit: number, message: RegExp): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(exit)
  const lines = r.stderr.trimEnd().split('\n')
  expect(lines, r.stderr).toHaveLength(2)
  expect(lines[0]).toMatch(/^velo: error: /)
  expect(lines[0]).toMatch(message)
  expect(lines[1]).toMatch(/^hint: ./)
  expect(r.stderr).not.toMatch(/^\s+at /m)
  expect(r.stdout).toBe('')
}

/** The same failure with --json: the last stdout line is {"type":"error","exitCode","error":{code,message,hint}}. */
function expectJsonError(r: VeloRun, exit: number, code: string): Record<string, string> {
  expect(r.code, r.stdout + r.stderr).toBe(exit)
  const j = lastJson(r.stdout) as unknown as {type: string; exitCode: number; error: Record<string, string>}
  expect(j.type).toBe('error')
  expect(j.exitCode).toBe(exit)
  expect(j.error.code).toBe(code)
  expect(j.error.message).toBeTruthy()
  expect(j.error.hint).toBeTruthy()
  expect(r.stderr).not.toMatch(/^\s+at /m)
  return j.error
}

/** One failure in its human form and (unless json is false) with --json. */
function expectFailure(args: string[], exit: number, code: string, message: RegExp, json = true): void {
  expectError(velo(args), exit, message)
  if (json) expectJsonError(velo([...args, '--json']), exit, code)
}

/** Two file contents whose ids share their first 4 hex digits (for an ambiguous prefix). */
function collidingContents(): [string, string, string] {
  const seen = new Map<string, string>()
  for (let i = 0; ; i++) {
    const c = `e2e ambiguous ${i}\n`
    const p = hash(Buffer.from(c)).toString('hex').slice(0, 4)
    const other = seen.get(p)
    if (other) return [other, c, p]
    seen.set(p, c)
  }
}

describe('velo core commands end to end', () => {
  const scratch = useScratchDir('velo-e2e-core-')
  const tree = join(scratch.path, 'my tree')
  const repo = join(scratch.path, 'repo')
  const big = new RandomStream('e2e-big').next(3 << 20)
  const [amb1, amb2, ambPrefix] = collidingContents()
  let first = ''
  let second = ''
  let sleeper: ChildProcess | undefined

  beforeAll(() => {
    chmodSync(scratch.path, 0o755)
    makeTree(tree, {
      'a.txt': 'alpha\n',
      'run.sh': {exec: '#!/bin/sh\necho run\n'},
      link: {symlink: 'a.txt'},
      sub: {dir: {'b.txt': 'beta\n'}},
      'with space.txt': 'spaced\n',
      empty: {dir: {}},
      'big.bin': big,
      'amb-1': amb1,
      'amb-2': amb2,
    })
  })

  afterAll(() => {
    sleeper?.kill('SIGKILL')
    scratch.cleanup()
  })

  describe('init', () => {
    it('creates a repository, accepts an existing one, refuses a non-empty directory', () => {
      const r = veloOk(['init', repo])
      expect(r.stdout.trim()).toBe(`created repository ${repo}`)
      expect(readdirSync(repo).sort()).toEqual(expect.arrayContaining(['packs', 'refs', 'velo.json']))
      expect(veloOk(['init', repo]).stdout.trim()).toBe(`${repo} is already a repository`)
      expect(lastJson(veloOk(['init', repo, '--json']).stdout)).toMatchObject({type: 'summary', path: repo, created: false})
      const busy = join(scratch.path, 'busy')
      makeTree(busy, {'file.txt': 'x'})
      expectFailure(['init', busy], 2, 'ERR_VELO_REPO_EXISTS', /is not empty and is not a velo repository/)
      expect(readdirSync(busy)).toEqual(['file.txt'])
    })
  })

  describe('snapshot', () => {
    it('prints a summary and the id on the last line', () => {
      const r = veloOk(['snapshot', tree, '--repo', repo, '--ref', 'app/deps', '-m', 'first snapshot'])
      const lines = r.stdout.trim().split('\n')
      first = lines[lines.length - 1]
      expect(first).toMatch(HEX64)
      expect(lines[0]).toMatch(/^snapshot app\/deps: 7 files, /)
      expect(readFileSync(join(repo, 'refs', 'app', 'deps'), 'utf8').trim()).toBe(first)
    })

    it('with --json, ends with one summary object: id, ref, parent and counts', () => {
      writeFileSync(join(tree, 'a.txt'), 'alpha, changed\n') // M
      rmSync(join(tree, 'sub', 'b.txt')) // D
      writeFileSync(join(tree, 'new.txt'), 'new\n') // A
      rmSync(join(tree, 'link'))
      writeFileSync(join(tree, 'link'), 'a file now\n') // T
      const r = veloOk(['snapshot', tree, '--repo', repo, '--ref', 'app/deps', '-m', 'second', '--json'])
      const s = lastJson(r.stdout) as Record<string, unknown>
      expect(s).toMatchObject({type: 'summary', ref: 'app/deps', parent: first, files: 8, symlinks: 0})
      for (const k of ['files', 'bytes', 'newObjects', 'newBytes', 'storedBytes', 'hashedFiles']) expect(typeof s[k], k).toBe('number')
      expect(s.bytes).toBe(walkTotal(tree))
      expect(s.newObjects as number).toBeGreaterThan(0)
      second = s.id as string
      expect(second).toMatch(HEX64)
      expect(s.tree).toMatch(HEX64)
    })

    it('names the ref after the directory when --ref is not given', () => {
      const other = join(scratch.path, 'node_modules')
      makeTree(other, {'x.js': 'x'})
      const r = veloOk(['snapshot', other, '--repo', repo, '--json'])
      const real = realpathSync(other)
      const ref = `${basename(real)}-${hash(Buffer.from(real)).toString('hex').slice(0, 8)}`
      expect(lastJson(r.stdout)).toMatchObject({type: 'summary', ref})
      expect(veloOk(['ref', 'list', '--repo', repo]).stdout).toContain(`  ${ref}\n`)
    })
  })

  describe('reading snapshots', () => {
    it('log: newest first, with refs and messages; --json', () => {
      const lines = veloOk(['log', 'app/deps', '--repo', repo]).stdout.trim().split('\n')
      expect(lines).toHaveLength(2)
      expect(lines[0]).toMatch(new RegExp(`^${second.slice(0, 12)} \\(app/deps\\)  \\S+Z  \\S+@\\S+  second$`))
      expect(lines[1]).toMatch(new RegExp(`^${first.slice(0, 12)}  .*  first snapshot$`))
      const j = lastJson(veloOk(['log', 'app/deps', '--repo', repo, '--json']).stdout) as unknown as {id: string; parents: string[]}[]
      expect(j.map((e) => e.id)).toEqual([second, first])
      expect(j[0].parents).toEqual([first])
      expect(veloOk(['log', 'app/deps', '-n', '1', '--repo', repo]).stdout.trim().split('\n')).toHaveLength(1)
    })

    it('show: one snapshot; --json', () => {
      const out = veloOk(['show', 'app/deps~1', '--repo', repo]).stdout
      expect(out).toMatch(new RegExp(`^snapshot ${first}\\n`))
      expect(out).toMatch(/\ntree {5}[0-9a-f]{64}\n/)
      expect(out).toContain('first snapshot')
      const j = lastJson(veloOk(['show', second.slice(0, 8), '--repo', repo, '--json']).stdout)
      expect(j).toMatchObject({type: 'summary', id: second, refs: ['app/deps'], parents: [first], message: 'second'})
    })

    it('ls: entries, -r recursively, REV:PATH, --json', () => {
      const paths = (args: string[]): string[] => (lastJson(veloOk([...args, '--repo', repo, '--json']).stdout) as unknown as {path: string}[]).map((e) => e.path)
      expect(paths(['ls', 'app/deps~1', '-r'])).toEqual(['a.txt', 'amb-1', 'amb-2', 'big.bin', 'empty', 'link', 'run.sh', 'sub', 'sub/b.txt', 'with space.txt'])
      expect(paths(['ls', 'app/deps~1'])).toEqual(['a.txt', 'amb-1', 'amb-2', 'big.bin', 'empty', 'link', 'run.sh', 'sub', 'with space.txt'])
      expect(paths(['ls', 'app/deps~1:sub'])).toEqual(['b.txt'])
      const human = veloOk(['ls', 'app/deps~1', '--repo', repo]).stdout
      expect(human).toMatch(/^symlink +5 [0-9a-f]{12} {2}link -> a\.txt$/m)
      expect(human).toMatch(/^exec +\d+ [0-9a-f]{12} {2}run\.sh$/m)
      expect(human).toMatch(/^dir +\d+ [0-9a-f]{12} {2}sub\/$/m)
      const entries = lastJson(veloOk(['ls', 'app/deps~1', '--repo', repo, '--json']).stdout) as unknown as {path: string; kind: string; size: number; target?: string}[]
      expect(entries.find((e) => e.path === 'link')).toMatchObject({kind: 'symlink', target: 'a.txt'})
      expect(entries.find((e) => e.path === 'big.bin')).toMatchObject({kind: 'file', size: 3 << 20})
    })

    it('cat: the exact bytes (a chunked file too), a link target', () => {
      const cat = (spec: string): Buffer => {
        const r = spawnSync(process.execPath, [BIN, 'cat', spec, '--repo', repo], {env: {...process.env, VELO_FSYNC: '0'}, maxBuffer: 64 << 20})
        expect(r.status, String(r.stderr)).toBe(0)
        return r.stdout
      }
      expect(cat('app/deps~1:big.bin').equals(big)).toBe(true)
      expect(cat('app/deps~1:a.txt').toString()).toBe('alpha\n')
      expect(cat('app/deps~1:with space.txt').toString()).toBe('spaced\n')
      expect(cat('app/deps~1:link').toString()).toBe('a.txt\n')
      expectError(velo(['cat', 'app/deps~1:sub', '--repo', repo]), 2, /sub is a directory/)
    })
  })

  describe('diff', () => {
    it('prints A/M/D/T, a tab and the path for two snapshots, and nothing for equal trees', () => {
      expect(veloOk(['diff', 'app/deps~1', 'app/deps', '--repo', repo]).stdout).toBe('M\ta.txt\nT\tlink\nA\tnew.txt\nD\tsub/b.txt\n')
      expect(veloOk(['diff', 'app/deps', 'app/deps~1', '--repo', repo]).stdout).toBe('M\ta.txt\nT\tlink\nD\tnew.txt\nA\tsub/b.txt\n')
      expect(veloOk(['diff', 'app/deps', '--repo', repo]).stdout).toBe('M\ta.txt\nT\tlink\nA\tnew.txt\nD\tsub/b.txt\n')
      const same = veloOk(['diff', 'app/deps', second, '--repo', repo])
      expect(same.stdout).toBe('')
      expect(same.stderr).toBe('')
      expect(veloOk(['diff', 'app/deps~1', 'app/deps', '--stat', '--repo', repo]).stdout).toBe('4 paths changed: 1 added, 1 modified, 1 deleted, 1 type changed\n')
      const j = lastJson(veloOk(['diff', 'app/deps~1', 'app/deps', '--repo', repo, '--json']).stdout) as unknown as {changes: {status: string; path: string}[]}
      expect(j.changes.map((c) => `${c.status} ${c.path}`)).toEqual(['M a.txt', 'T link', 'A new.txt', 'D sub/b.txt'])
    })

    it('compares a snapshot with a directory: nothing when equal, then the changes', () => {
      expect(veloOk(['diff', 'app/deps', tree, '--repo', repo]).stdout).toBe('')
      writeFileSync(join(tree, 'with space.txt'), 'changed on disk\n')
      mkdirSync(join(tree, 'fresh dir'))
      writeFileSync(join(tree, 'fresh dir', 'f'), 'f')
      rmSync(join(tree, 'run.sh'))
      try {
        expect(veloOk(['diff', 'app/deps', tree, '--repo', repo]).stdout).toBe('A\tfresh dir/f\nD\trun.sh\nM\twith space.txt\n')
      } finally {
        rmSync(join(tree, 'fresh dir'), {recursive: true})
        writeFileSync(join(tree, 'with space.txt'), 'spaced\n')
        writeFileSync(join(tree, 'run.sh'), '#!/bin/sh\necho run\n', {mode: 0o755})
      }
      expect(veloOk(['diff', 'app/deps', tree, '--repo', repo]).stdout).toBe('')
    })
  })

  describe('restore', () => {
    it('writes the snapshot out, refuses a non-empty directory, and --force makes it match', () => {
      const out = join(scratch.path, 'restored')
      const r = veloOk(['restore', 'app/deps~1', out, '--repo', repo])
      expect(r.stdout).toMatch(/^restored [0-9a-f]{12} into /)
      expect(readFileSync(join(out, 'big.bin')).equals(big)).toBe(true)
      expect(walkTree(out).get('run.sh')).toEqual({type: 'file', size: 19, exec: true})
      expect(walkTree(out).get('link')).toEqual({type: 'symlink', size: 5, exec: false, target: 'a.txt'})
      expect(walkTree(out).get('empty')).toEqual({type: 'dir', size: 0, exec: false})
      expectFailure(['restore', 'app/deps', out, '--repo', repo], 2, 'ERR_VELO_TARGET_NOT_EMPTY', /is not empty/)
      expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('alpha\n')
      veloOk(['restore', 'app/deps', out, '--force', '--repo', repo])
      const d = spawnSync('diff', ['-r', '--no-dereference', tree, out], {encoding: 'utf8'})
      expect(d.stdout + d.stderr).toBe('')
    })
  })

  describe('refs', () => {
    it('ref set, list and delete, each move in the reflog', () => {
      expect(veloOk(['ref', 'set', 'app/stable', 'app/deps~1', '--repo', repo]).stdout.trim()).toBe(`app/stable -> ${first}`)
      const list = veloOk(['ref', 'list', 'app/', '--repo', repo]).stdout
      expect(list).toBe(`${second}  app/deps\n${first}  app/stable\n`)
      expect(lastJson(veloOk(['ref', 'list', '--repo', repo, '--json']).stdout)).toEqual(
        expect.arrayContaining([{name: 'app/stable', oid: first}, {name: 'app/deps', oid: second}]),
      )
      // compare-and-swap: the ref is not at the expected value
      expectFailure(['ref', 'set', 'app/stable', 'app/deps', '--expect', second, '--repo', repo], 12, 'ERR_VELO_REF_CONFLICT', /app\/stable moved|app\/stable/)
      veloOk(['ref', 'set', 'app/stable', 'app/deps', '--expect', first, '--repo', repo])
      expect(veloOk(['ref', 'delete', 'app/stable', '--repo', repo]).stdout.trim()).toBe(`deleted app/stable (was ${second})`)
      expect(veloOk(['ref', 'list', 'app/', '--repo', repo]).stdout).toBe(`${second}  app/deps\n`)
      expectFailure(['ref', 'delete', 'app/stable', '--repo', repo], 16, 'ERR_VELO_NOT_FOUND', /no ref named app\/stable/)
      const log = readFileSync(join(repo, 'logs', 'app', 'stable'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
      expect(log.map((e) => [e.old, e.new, e.command])).toEqual([
        [null, first, 'ref set'],
        [first, second, 'ref set'],
        [second, null, 'ref delete'],
      ])
      for (const e of log) {
        expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT/)
        expect(e.user).toBeTruthy()
        expect(e.host).toBe(hostname())
      }
      const deps = readFileSync(join(repo, 'logs', 'app', 'deps'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
      expect(deps.map((e) => [e.old, e.new, e.command])).toEqual([
        [null, first, 'snapshot'],
        [first, second, 'snapshot'],
      ])
      expect(deps[0].message).toBe('first snapshot')
    })
  })

  describe('errors: one line, a hint, the exit code; JSON with --json', () => {
    it('not a repository', () => {
      expectFailure(['log', '--repo', join(scratch.path, 'nowhere')], 10, 'ERR_VELO_NOT_A_REPO', /is not a velo repository/)
      expectFailure(['show', 'x', '--repo', tree], 10, 'ERR_VELO_NOT_A_REPO', /is not a velo repository/, false)
    })

    it('unknown revision or id', () => {
      expectFailure(['show', 'nosuchref', '--repo', repo], 16, 'ERR_VELO_NOT_FOUND', /unknown revision "nosuchref"/)
      expectFailure(['show', 'abcdef0123', '--repo', repo], 16, 'ERR_VELO_NOT_FOUND', /abcdef0123/, false)
      expectFailure(['show', 'app/deps~5', '--repo', repo], 16, 'ERR_VELO_NOT_FOUND', /no parent/, false)
      const blob = hash(Buffer.from('alpha\n')).toString('hex')
      expectFailure(['show', blob, '--repo', repo], 16, 'ERR_VELO_NOT_FOUND', /is a blob, not a snapshot/)
    })

    it('ambiguous id prefix, listing the candidates', () => {
      const ids = [amb1, amb2].map((c) => hash(Buffer.from(c)).toString('hex'))
      const r = velo(['show', ambPrefix, '--repo', repo])
      expectError(r, 16, /ambiguous/)
      for (const id of ids) expect(r.stderr).toContain(id)
      const e = expectJsonError(velo(['show', ambPrefix, '--repo', repo, '--json']), 16, 'ERR_VELO_AMBIGUOUS')
      for (const id of ids) expect(e.message).toContain(id)
    })

    it('bad ref name', () => {
      expectFailure(['snapshot', tree, '--ref', 'bad..name', '--repo', repo], 2, 'ERR_VELO_BAD_REF_NAME', /bad ref name "bad\.\.name"/)
      expectFailure(['ref', 'set', 'has space', 'app/deps', '--repo', repo], 2, 'ERR_VELO_BAD_REF_NAME', /bad ref name/, false)
      expectFailure(['ref', 'set', 'x.lock', 'app/deps', '--repo', repo], 2, 'ERR_VELO_BAD_REF_NAME', /bad ref name/, false)
    })

    it('missing path', () => {
      expectFailure(['cat', 'app/deps:no/such/file', '--repo', repo], 16, 'ERR_VELO_NOT_FOUND', /no\/such|not in the snapshot/, false) // cat has no --json
      expectFailure(['ls', 'app/deps:nope', '--repo', repo], 16, 'ERR_VELO_NOT_FOUND', /nope/)
      expectFailure(['snapshot', join(scratch.path, 'no such dir'), '--repo', repo], 16, 'ERR_VELO_NOT_FOUND', /does not exist/, false)
    })

    it('corrupted pack or index', () => {
      const broken = join(scratch.path, 'broken-repo')
      cpSync(repo, broken, {recursive: true})
      const blob = hash(Buffer.from('alpha\n')).toString('hex')
      const packs = join(broken, 'packs')
      const idxName = readdirSync(packs).find((n) => n.endsWith('.idx') && new PackIndex(readFileSync(join(packs, n))).find(Buffer.from(blob, 'hex')) >= 0)!
      const idx = new PackIndex(readFileSync(join(packs, idxName)))
      const rec = idx.record(idx.find(Buffer.from(blob, 'hex')))
      const pack = idxName.replace(/\.idx$/, '')
      const before = velo(['cat', 'app/deps~1:a.txt', '--repo', broken])
      expect(before.stdout).toBe('alpha\n')
      const raw = readFileSync(join(packs, `${pack}.pack`))[rec.blockOffset] === 0
      flipByte(join(packs, `${pack}.pack`), rec.blockOffset + 12 + (raw ? rec.offset : 3), 0x02) // inside a.txt's bytes
      const r = velo(['cat', 'app/deps~1:a.txt', '--repo', broken])
      expectError(r, 13, new RegExp(`${blob}.*${pack}|${pack}.*${blob}`))
      expect(r.stderr).toMatch(/fsck/)
      expectJsonError(velo(['restore', 'app/deps~1', join(scratch.path, 'from-broken'), '--repo', broken, '--json']), 13, 'ERR_VELO_CORRUPT')
      // a damaged index
      const metaIdx = readdirSync(packs).filter((n) => n.startsWith('m-') && n.endsWith('.idx'))
      for (const n of metaIdx) flipByte(join(packs, n), 40, 0x01)
      expectFailure(['ls', 'app/deps', '--repo', broken], 13, 'ERR_VELO_CORRUPT', /index|damaged/)
    })

    it('permission denied (velo run as nobody on a repository owned by root)', () => {
      const env = {HOME: scratch.path}
      const asNobody = (args: string[]): VeloRun => {
        const r = spawnSync(process.execPath, [BIN, ...args], {uid: 65534, gid: 65534, env: {PATH: process.env.PATH, VELO_FSYNC: '0', ...env}, encoding: 'utf8'})
        return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
      }
      const mine = join(scratch.path, 'nobody-tree')
      makeTree(mine, {'f.txt': 'f'})
      chownSync(mine, 65534, 65534)
      expectError(asNobody(['snapshot', mine, '--repo', repo, '--ref', 'nobody']), 19, /permission denied/)
      expectJsonError(asNobody(['snapshot', mine, '--repo', repo, '--ref', 'nobody', '--json']), 19, 'ERR_VELO_PERMISSION')
      const target = join(scratch.path, 'root-owned-target')
      mkdirSync(target)
      expectError(asNobody(['restore', 'app/deps', join(target, 'out'), '--repo', repo]), 19, /permission denied/)
    })

    it('lock held by a live process, naming it', () => {
      sleeper = spawn('sleep', ['60'])
      const lock = join(repo, 'refs', 'app', 'deps.lock')
      writeFileSync(lock, JSON.stringify({pid: sleeper.pid, host: hostname(), started: '2030-01-01T00:00:00.000Z', command: 'snapshot'}) + '\n')
      try {
        const r = velo(['ref', 'set', 'app/deps', 'app/deps~1', '--repo', repo])
        expectError(r, 11, new RegExp(`process ${sleeper.pid} on ${hostname()}`))
        expect(r.stderr).toMatch(/deps\.lock/)
        expect(readFileSync(join(repo, 'refs', 'app', 'deps'), 'utf8').trim()).toBe(second)
      } finally {
        rmSync(lock)
        sleeper.kill('SIGKILL')
      }
    })

    it('a stack trace only with VELO_DEBUG=1', () => {
      const plain = velo(['show', 'nosuchref', '--repo', repo])
      expect(plain.stderr).not.toMatch(/^\s+at /m)
      const debug = velo(['show', 'nosuchref', '--repo', repo], {env: {VELO_DEBUG: '1'}})
      expect(debug.code).toBe(16)
      expect(debug.stderr).toMatch(/^velo: error: unknown revision/)
      expect(debug.stderr).toMatch(/^\s+at .*\.js:\d+/m)
    })
  })
})

function walkTotal(root: string): number {
  let n = 0
  for (const i of walkTree(root).values()) if (i.type === 'file') n += i.size
  return n
}

