/**
 * The stat cache: an unchanged tree is not read again; a touched file is; a rewrite that keeps
 * size and mtime is caught through ctime; entries younger than the cache (racy) are re-hashed.
 */
import {closeSync, openSync, readFileSync, realpathSync, statSync, utimesSync, writeFileSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {snapshot} from '../../src/api/snapshot.js'
import {Repository} from '../../src/repo/Repository.js'
import {statCacheName} from '../../src/snapshot/refNameFor.js'
import {decodeStatCache, encodeStatCache} from '../../src/snapshot/statCache.js'
import {RandomStream, makeTree, scratchDir, walkTree} from '../helpers/trees.js'

const MiB = 1 << 20

/** Bytes this process read through read(2)-like calls so far (all threads). */
function rchar(): number {
  return Number(/rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))![1])
}

/** Sets the times of every path below root (and root) to `secondsAgo` in the past (negative: future). */
function age(root: string, secondsAgo = 3600): void {
  const t = Date.now() / 1000 - secondsAgo
  for (const p of [...walkTree(root).keys()].reverse()) {
    const abs = join(root, p)
    if (!statSync(abs, {throwIfNoEntry: false})) continue // dangling links: nothing to age
    if (walkTree(root).get(p)?.type === 'symlink') continue
    utimesSync(abs, t, t)
  }
  utimesSync(root, t, t)
}

describe('stat cache', () => {
  let scratch: ReturnType<typeof scratchDir>
  let tree: string
  let repo: Repository

  beforeEach(() => {
    scratch = scratchDir('velo-statcache-')
    tree = join(scratch.path, 'tree')
    const rs = new RandomStream('statcache')
    makeTree(tree, {
      'small.txt': 'hello\n',
      'same-size.txt': 'AAAA',
      'run.sh': {exec: '#!/bin/sh\n'},
      link: {symlink: 'small.txt'},
      sub: {dir: {deeper: {dir: {'x.bin': rs.next(3 * MiB)}}, 'y.bin': rs.next(12 * MiB)}},
      big: {dir: {'a.bin': rs.next(16 * MiB), 'b.bin': rs.next(200_000)}},
    })
    repo = Repository.open(join(scratch.path, 'repo'), {create: true})
  })

  afterEach(() => {
    repo.close()
    scratch.cleanup()
  })

  it('reads no file content for an unchanged tree older than the racy window', async () => {
    age(tree)
    const first = await snapshot(repo, {dir: tree, ref: 't'})
    expect(first.hashedFiles).toBe(7)
    const before = rchar()
    const second = await snapshot(repo, {dir: tree, ref: 't'})
    const read = rchar() - before
    expect(second.hashedFiles).toBe(0)
    expect(second.hashedBytes).toBe(0)
    expect(second.tree).toBe(first.tree)
    // 31 MiB of content; what was read is the stat cache and little else
    expect(read, `read ${read} bytes`).toBeLessThan(MiB)
  })

  it('re-reads a touched file (and only it), keeping the tree id when the content is the same', async () => {
    age(tree)
    const first = await snapshot(repo, {dir: tree, ref: 't'})
    utimesSync(join(tree, 'sub/y.bin'), new Date(), new Date(Date.now() - 5000))
    const second = await snapshot(repo, {dir: tree, ref: 't'})
    expect(second.hashedFiles).toBe(1)
    expect(second.hashedBytes).toBe(12 * MiB)
    expect(second.tree).toBe(first.tree)
  })

  it('catches a rewrite with the same size and the same mtime through ctime', async () => {
    age(tree)
    const first = await snapshot(repo, {dir: tree, ref: 't'})
    const p = join(tree, 'same-size.txt')
    const st = statSync(p)
    const fd = openSync(p, 'r+')
    writeSync(fd, 'BBBB', 0)
    closeSync(fd)
    utimesSync(p, st.atime, st.mtime) // mtime back to what the cache has; ctime moves on
    expect(statSync(p).mtimeMs).toBe(st.mtimeMs)
    expect(statSync(p).size).toBe(st.size)
    const second = await snapshot(repo, {dir: tree, ref: 't'})
    expect(second.hashedFiles).toBe(1)
    expect(second.tree).not.toBe(first.tree)
    const entry = repo.readTree(second.tree).find((e) => e.name === 'same-size.txt')!
    expect(repo.packs.readContent(entry.id).toString()).toBe('BBBB')
  })

  it('re-hashes racy entries: files modified less than the racy window before the cache was written', async () => {
    // mtimes not older than the cache (here: a little in the future, so that no slowness of this
    // machine can make them old): the cache cannot vouch for them
    age(tree, -30)
    const first = await snapshot(repo, {dir: tree, ref: 't'})
    const second = await snapshot(repo, {dir: tree, ref: 't'})
    expect(second.hashedFiles).toBe(first.hashedFiles)
    expect(second.tree).toBe(first.tree)
    // once old enough, they are trusted
    age(tree)
    await snapshot(repo, {dir: tree, ref: 't'})
    expect((await snapshot(repo, {dir: tree, ref: 't'})).hashedFiles).toBe(0)
  })

  it('notices added, removed, retyped and re-linked entries of a cached tree', async () => {
    age(tree)
    await snapshot(repo, {dir: tree, ref: 't'})
    writeFileSync(join(tree, 'sub/new.txt'), 'new')
    const {rmSync, symlinkSync, unlinkSync} = await import('node:fs')
    rmSync(join(tree, 'big/b.bin'))
    unlinkSync(join(tree, 'link'))
    symlinkSync('run.sh', join(tree, 'link'))
    rmSync(join(tree, 'small.txt'))
    makeTree(tree, {'small.txt': {dir: {}}})
    const s = await snapshot(repo, {dir: tree, ref: 't'})
    const fresh = Repository.open(join(scratch.path, 'repo2'), {create: true})
    try {
      const cold = await snapshot(fresh, {dir: tree, ref: 't'})
      expect(s.tree).toBe(cold.tree)
    } finally {
      fresh.close()
    }
  })

  it('keeps unchanged directories of a rewritten cache as they were: a change deep down, then nothing to read', async () => {
    age(tree)
    const first = await snapshot(repo, {dir: tree, ref: 't'})
    // one changed file deep in the tree: its directories are rebuilt, every other one is copied
    // from the old cache without being decoded
    writeFileSync(join(tree, 'sub/deeper/x.bin'), 'now small')
    utimesSync(join(tree, 'sub/deeper/x.bin'), new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000))
    const second = await snapshot(repo, {dir: tree, ref: 't'})
    expect(second.hashedFiles).toBe(1)
    expect(second.tree).not.toBe(first.tree)
    const cache = decodeStatCache(readFileSync(join(repo.cacheDir, 'stat', statCacheName(realpathSync(tree)))))!
    expect([...cache.dirs.keys()].sort()).toEqual(['', 'big', 'sub', 'sub/deeper'])
    expect(cache.dirs.get('big')!.entries.map((e) => e.name)).toEqual(['a.bin', 'b.bin'])
    const third = await snapshot(repo, {dir: tree, ref: 't'})
    expect(third.hashedFiles).toBe(0)
    expect(third.tree).toBe(second.tree)
    const fresh = Repository.open(join(scratch.path, 'repo2'), {create: true})
    try {
      expect((await snapshot(fresh, {dir: tree, ref: 't'})).tree).toBe(second.tree)
    } finally {
      fresh.close()
    }
  })

  it('lists a directory again when it changed in the same clock tick as the cache was written', async () => {
    // A file created in a directory within the same timestamp tick as the snapshot that listed it
    // leaves the directory's mtime and ctime as cached. Such a directory is racy, like a file: it
    // must be listed again. The race is reproduced deterministically by writing the cache that
    // snapshot would have written: the directory's current stat with the old listing.
    age(tree)
    await snapshot(repo, {dir: tree, ref: 't'})
    writeFileSync(join(tree, 'sub/created-in-the-same-tick.txt'), 'must not be lost')
    const cachePath = join(repo.cacheDir, 'stat', statCacheName(realpathSync(tree)))
    const cache = decodeStatCache(readFileSync(cachePath))!
    const sub = cache.dirs.get('sub')!
    const st = statSync(join(tree, 'sub'))
    sub.mtimeMs = st.mtimeMs
    sub.ctimeMs = st.ctimeMs
    cache.writtenAt = Math.max(st.mtimeMs, st.ctimeMs) // written in that same tick
    writeFileSync(cachePath, Buffer.from(encodeStatCache(cache)))
    const s = await snapshot(repo, {dir: tree, ref: 't'})
    const subTree = repo.readTree(repo.readTree(s.tree).find((e) => e.name === 'sub')!.id)
    expect(subTree.map((e) => e.name)).toContain('created-in-the-same-tick.txt')
  })

  it('ignores a damaged cache file (a full re-read, same tree)', async () => {
    age(tree)
    const first = await snapshot(repo, {dir: tree, ref: 't'})
    const cachePath = join(repo.cacheDir, 'stat', statCacheName(realpathSync(tree)))
    const bytes = readFileSync(cachePath)
    writeFileSync(cachePath, bytes.subarray(0, bytes.length >> 1))
    const second = await snapshot(repo, {dir: tree, ref: 't'})
    expect(second.hashedFiles).toBe(7)
    expect(second.tree).toBe(first.tree)
  })
})
