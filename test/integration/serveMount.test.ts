/**
 * A mount served by this very process (as `velo checkout --foreground` and `velo run` do): only
 * asynchronous fs calls and child processes touch it (synchronous ones would deadlock). Checks
 * that snapshot() and diff() of the mount read the upper layer rather than the mount, and that the
 * access trace is written when the mount stops.
 */
import {execFile} from 'node:child_process'
import {mkdirSync, readdirSync} from 'node:fs'
import {readFile, readdir, rename, unlink, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {diff} from '../../src/api/diff.js'
import {mountTrace} from '../../src/api/mounts.js'
import {snapshot} from '../../src/api/snapshot.js'
import {readAccessTrace} from '../../src/mount/AccessTrace.js'
import {findMount, listMounts} from '../../src/mount/registry.js'
import {serveMount} from '../../src/mount/serveMount.js'
import {Repository} from '../../src/repo/Repository.js'
import {cleanupMounts, fuseTestsEnabled, mountsUnder} from '../helpers/mounts.js'
import {makeTree, scratchDir} from '../helpers/trees.js'

const run = promisify(execFile)

describe.skipIf(!fuseTestsEnabled())('serveMount in this process (real FUSE)', () => {
  let scratch: {path: string; cleanup: () => void}
  let repo: Repository

  beforeAll(async () => {
    scratch = scratchDir('velo-serve-')
    makeTree(join(scratch.path, 'src'), {'a.txt': 'hello\n', sub: {dir: {'b.txt': 'bee\n', 'c.txt': 'sea\n'}}, link: {symlink: 'sub/b.txt'}})
    repo = Repository.open(join(scratch.path, 'repo'), {create: true})
    await snapshot(repo, {dir: join(scratch.path, 'src'), ref: 'base'})
  })

  afterAll(() => {
    cleanupMounts(scratch.path)
    repo?.close()
    scratch?.cleanup()
  })

  it('serves reads and writes, snapshots and diffs itself, traces accesses, and stops cleanly', async () => {
    const mnt = join(scratch.path, 'mnt')
    mkdirSync(mnt)
    const server = await serveMount(repo, {rev: 'base', mountpoint: mnt})
    try {
      expect(findMount(repo.root, mnt)?.pid).toBe(process.pid)
      expect(listMounts(repo.root).map((m) => m.mountpoint)).toEqual([mnt])
      expect((await readdir(mnt)).sort()).toEqual(['a.txt', 'link', 'sub'])
      expect(await readFile(join(mnt, 'sub/c.txt'), 'utf8')).toBe('sea\n')
      expect(await readFile(join(mnt, 'link'), 'utf8')).toBe('bee\n')
      await writeFile(join(mnt, 'a.txt'), 'changed\n')
      await unlink(join(mnt, 'sub/c.txt'))
      await rename(join(mnt, 'sub'), join(mnt, 'moved'))
      // another process works on the mount as well (cat runs while this process serves it)
      expect((await run('cat', [join(mnt, 'a.txt'), join(mnt, 'moved/b.txt')])).stdout).toBe('changed\nbee\n')
      const d = await diff(repo, 'base', mnt)
      expect(d.changes.map((c) => `${c.status} ${c.path}`)).toEqual(['M a.txt', 'A moved/b.txt', 'D sub/b.txt', 'D sub/c.txt'])
      const s = await snapshot(repo, {dir: mnt, ref: 'after'})
      expect(s.parent).toBe(repo.resolveSnapshot('base'))
      expect(repo.readTree(s.tree).map((e) => e.name)).toEqual(['a.txt', 'link', 'moved'])
    } finally {
      await server.stop()
      await server.closed
    }
    expect(mountsUnder(mnt)).toEqual([])
    expect(readdirSync(mnt)).toEqual([])
    expect(findMount(repo.root, mnt)).toBeUndefined()
    // (moved/b.txt is served from the page cache: same kernel inode as sub/b.txt before the rename)
    expect(readAccessTrace(server.record.trace).slice(0, 3)).toEqual(['sub/c.txt', 'sub/b.txt', 'a.txt'])
    expect(mountTrace(repo, server.record.id)).toEqual(readAccessTrace(server.record.trace))
  })
})
