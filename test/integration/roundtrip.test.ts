/**
 * The round trip of the issue: snapshot then restore reproduces a tree with exec bits, relative,
 * absolute and dangling symlinks, empty files and directories, unicode and space-containing names,
 * a 300 MiB file and 10,000 small files. The same tree twice, and a copy at another path, give the
 * same root tree id and add almost nothing to the repository.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, linkSync, lstatSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

vi.hoisted(() => {
  process.env.VELO_FSYNC = '0' // page cache is enough for these tests; crash tests use kill -9
})

import {snapshot, type SnapshotResult} from '../../src/api/snapshot.js'
import {Repository} from '../../src/repo/Repository.js'
import {restoreTree} from '../../src/restore/restoreTree.js'
import {RandomStream, dirBytes, makeTree, useScratchDir, walkTree, writeRandomFile} from '../helpers/trees.js'

const MiB = 1 << 20

describe('snapshot and restore round trip', () => {
  const scratch = useScratchDir('velo-roundtrip-')
  const src = join(scratch.path, 'src tree')
  const repoPath = join(scratch.path, 'repo')
  let repo: Repository
  let first: SnapshotResult
  const warnings: string[] = []

  beforeAll(async () => {
    makeTree(src, {
      'plain.txt': 'plain\n',
      'exec.sh': {exec: '#!/bin/sh\necho hi\n'},
      empty: '',
      'empty dir': {dir: {}},
      nested: {dir: {a: {dir: {b: {dir: {c: {dir: {}}}}}}}},
      'rel-link': {symlink: 'plain.txt'},
      'up-link': {symlink: '../src tree/plain.txt'},
      'abs-link': {symlink: '/etc/hostname'},
      dangling: {symlink: 'does/not/exist'},
      'dir-link': {symlink: 'nested'},
      'link-to-link': {symlink: 'rel-link'},
      'ünïcödé dir': {dir: {'файл с пробелами.txt': 'привет\n', '日本語 ファイル': 'こんにちは', 'emoji 😀.bin': Buffer.from([0, 1, 2, 255])}},
      ' leading and trailing space ': 'spaces',
      'tab\tand\nnewline': 'odd names are still names',
      '-rf': 'not an option',
      '.hidden': {dir: {'.also hidden': 'x'}},
    })
    writeFileSync(join(src, 'readonly.txt'), 'ro')
    chmodSync(join(src, 'readonly.txt'), 0o444)
    writeFileSync(join(src, 'exec-readonly'), 'rx')
    chmodSync(join(src, 'exec-readonly'), 0o555)
    writeFileSync(join(src, 'group-exec-only'), 'gx')
    chmodSync(join(src, 'group-exec-only'), 0o654) // only the owner's x bit counts
    linkSync(join(src, 'plain.txt'), join(src, 'hard link to plain'))
    // large files: around the chunking threshold, and 300 MiB
    mkdirSync(join(src, 'big'))
    writeRandomFile(join(src, 'big/threshold'), 2 * MiB, 'threshold')
    writeRandomFile(join(src, 'big/threshold+1'), 2 * MiB + 1, 'threshold+1')
    writeRandomFile(join(src, 'big/huge.bin'), 300 * MiB, 'huge')
    writeFileSync(join(src, 'big/compressible.log'), Buffer.alloc(5 * MiB, 'log line that repeats\n'))
    // 10,000 small files in 100 directories, some of them duplicates of each other
    const rs = new RandomStream('many')
    for (let d = 0; d < 100; d++) {
      const dir = join(src, 'many', `d${String(d).padStart(2, '0')}`)
      mkdirSync(dir, {recursive: true})
      for (let f = 0; f < 100; f++) {
        const n = (d * 100 + f) % 10 === 0 ? 0 : (d * 7919 + f * 104729) % 3000
        const content = f % 25 === 0 ? Buffer.from(`duplicate ${f}\n`) : rs.next(n)
        writeFileSync(join(dir, `f${f}.txt`), content, {mode: f % 17 === 0 ? 0o755 : 0o644})
      }
    }
    repo = Repository.open(repoPath, {create: true})
    first = await snapshot(repo, {dir: src, ref: 'rt/src', onWarning: (w) => warnings.push(w)})
  })

  afterAll(() => {
    repo?.close()
    scratch.cleanup()
  })

  it('snapshots every entry without warnings', () => {
    expect(warnings).toEqual([])
    expect(first.skipped).toEqual([])
    expect(first.files).toBe(10_000 + 18)
    expect(first.symlinks).toBe(6)
    expect(first.bytes).toBe(walkTreeBytes(src))
  })

  it('restores a tree that diff -r and a walk find identical: type, size, target, exec bit, bytes', async () => {
    const out = join(scratch.path, 'restored')
    const r = await restoreTree(repo, first.tree, out)
    expect(r.files).toBe(first.files)
    expect(r.symlinks).toBe(first.symlinks)
    const d = spawnSync('diff', ['-r', '--no-dereference', src, out], {encoding: 'utf8', maxBuffer: 16 * MiB})
    expect(d.stdout + d.stderr).toBe('')
    expect(d.status).toBe(0)
    const a = walkTree(src)
    const b = walkTree(out)
    expect([...b.keys()]).toEqual([...a.keys()])
    const mismatches = [...a].filter(([p, x]) => JSON.stringify(b.get(p)) !== JSON.stringify(x)).map(([p]) => p)
    expect(mismatches).toEqual([])
    // modes: only the exec bit is kept; files 0644 or 0755, directories 0755, hard links become files
    expect(lstatSync(join(out, 'readonly.txt')).mode & 0o7777).toBe(0o644)
    expect(lstatSync(join(out, 'exec-readonly')).mode & 0o7777).toBe(0o755)
    expect(lstatSync(join(out, 'group-exec-only')).mode & 0o7777).toBe(0o644)
    expect(lstatSync(join(out, 'exec.sh')).mode & 0o7777).toBe(0o755)
    expect(lstatSync(join(out, 'empty dir')).mode & 0o7777).toBe(0o755)
    expect(lstatSync(join(out, 'many/d00')).mode & 0o7777).toBe(0o755)
    expect(lstatSync(join(out, 'hard link to plain')).ino).not.toBe(lstatSync(join(out, 'plain.txt')).ino)
  })

  it('gives the same root tree id for the same tree twice, adding under 1 MiB', async () => {
    const before = dirBytes(repoPath)
    const again = await snapshot(repo, {dir: src, ref: 'rt/src'})
    expect(again.tree).toBe(first.tree)
    expect(again.parent).toBe(first.id)
    expect(dirBytes(repoPath) - before).toBeLessThan(MiB)
  })

  it('gives the same root tree id for a copy at another path (the restored tree), adding under 1 MiB', async () => {
    // The restored tree is a copy at another path with new inodes, times and modes (0444 became
    // 0644): nothing about it is in the stat cache, and the tree ids must still be the same.
    const before = dirBytes(repoPath)
    const c = await snapshot(repo, {dir: join(scratch.path, 'restored'), ref: 'rt/copy'})
    expect(c.tree).toBe(first.tree)
    expect(c.hashedFiles).toBe(first.files)
    expect(dirBytes(repoPath) - before).toBeLessThan(MiB)
    expect(repo.refs.list().map((r) => r.name)).toEqual(['rt/copy', 'rt/src'])
  })
})

function walkTreeBytes(root: string): number {
  let n = 0
  for (const info of walkTree(root).values()) if (info.type === 'file') n += info.size
  return n
}
