/**
 * restore never writes through a symlink or outside its target: it refuses a non-empty target
 * without --force, replaces planted symlinks instead of following them, and a hostile repository
 * (unsafe names in a tree) fails before anything is written.
 */
import {chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {snapshot} from '../../src/api/snapshot.js'
import {hash} from '../../src/objects/hash.js'
import type {Oid} from '../../src/objects/oid.js'
import {ObjectType} from '../../src/pack/block.js'
import {Repository} from '../../src/repo/Repository.js'
import {restoreTree} from '../../src/restore/restoreTree.js'
import {VeloError} from '../../src/util/errors.js'
import {rawTree} from '../helpers/codec.js'
import {snapshotOf, writeObjects} from '../helpers/repoWrite.js'
import {makeTree, useScratchDir, walkTree} from '../helpers/trees.js'

async function restoreError(p: Promise<unknown>): Promise<VeloError> {
  try {
    await p
  } catch (err) {
    if (err instanceof VeloError) return err
    throw err
  }
  throw new Error('restore succeeded')
}

describe('restore safety', () => {
  const scratch = useScratchDir('velo-restore-safety-')
  const src = join(scratch.path, 'src')
  const outside = join(scratch.path, 'outside')
  let repo: Repository
  let tree: Oid

  beforeAll(async () => {
    makeTree(src, {'a.txt': 'snapshot a\n', sub: {dir: {'file.txt': 'snapshot file\n', deeper: {dir: {'d.txt': 'd'}}}}, link: {symlink: 'a.txt'}})
    repo = Repository.open(join(scratch.path, 'repo'), {create: true})
    tree = (await snapshot(repo, {dir: src, ref: 'safe'})).tree
  })

  afterAll(() => {
    repo.close()
    scratch.cleanup()
  })

  /** A directory outside every target, with a file that must never change. */
  function plantOutside(name: string): {dir: string; victim: string; listing: () => string[]} {
    const dir = join(outside, name)
    makeTree(dir, {'victim.txt': 'precious\n'})
    return {dir, victim: join(dir, 'victim.txt'), listing: () => readdirSync(dir).sort()}
  }

  it('refuses a non-empty target without --force and leaves it as it was', async () => {
    const target = join(scratch.path, 'nonempty')
    makeTree(target, {'mine.txt': 'keep me'})
    const e = await restoreError(restoreTree(repo, tree, target))
    expect(e.code).toBe('ERR_VELO_TARGET_NOT_EMPTY')
    expect(e.hint).toMatch(/--force/)
    expect(readdirSync(target)).toEqual(['mine.txt'])
    expect(readFileSync(join(target, 'mine.txt'), 'utf8')).toBe('keep me')
  })

  it('refuses a target that is a file, or a symlink to a directory', async () => {
    const file = join(scratch.path, 'a-file')
    writeFileSync(file, 'x')
    expect((await restoreError(restoreTree(repo, tree, file))).code).toBe('ERR_VELO_TARGET_NOT_EMPTY')
    const o = plantOutside('via-target-link')
    const link = join(scratch.path, 'target-link')
    symlinkSync(o.dir, link)
    await restoreError(restoreTree(repo, tree, link, {force: true}))
    expect(o.listing()).toEqual(['victim.txt'])
  })

  it('restores into an empty directory and into a path that does not exist yet', async () => {
    const empty = join(scratch.path, 'empty')
    mkdirSync(empty)
    await restoreTree(repo, tree, empty)
    await restoreTree(repo, tree, join(scratch.path, 'new', 'nested', 'target'))
    expect(walkTree(empty)).toEqual(walkTree(src))
    expect(walkTree(join(scratch.path, 'new', 'nested', 'target'))).toEqual(walkTree(src))
  })

  it('with --force replaces planted symlinks instead of writing through them', async () => {
    const target = join(scratch.path, 'planted')
    mkdirSync(target)
    const dirVictim = plantOutside('dir-victim')
    const fileVictim = plantOutside('file-victim')
    const extraVictim = plantOutside('extra-victim')
    const deepVictim = plantOutside('deep-victim')
    symlinkSync(dirVictim.dir, join(target, 'sub')) // where the snapshot has a directory
    symlinkSync(fileVictim.victim, join(target, 'a.txt')) // where the snapshot has a file
    symlinkSync(extraVictim.dir, join(target, 'extra')) // not in the snapshot at all
    makeTree(target, {link: {dir: {'in-the-way': 'x'}}}) // a directory where the snapshot has a symlink
    await restoreTree(repo, tree, target, {force: true})
    expect(walkTree(target)).toEqual(walkTree(src))
    expect(lstatSync(join(target, 'sub')).isDirectory()).toBe(true)
    expect(readlinkSync(join(target, 'link'))).toBe('a.txt')
    for (const v of [dirVictim, fileVictim, extraVictim, deepVictim]) {
      expect(v.listing()).toEqual(['victim.txt'])
      expect(readFileSync(v.victim, 'utf8')).toBe('precious\n')
    }
    // a symlink planted inside an existing directory of the target
    symlinkSync(deepVictim.dir, join(target, 'sub', 'deeper-link'))
    rmSync(join(target, 'sub', 'deeper'), {recursive: true})
    symlinkSync(deepVictim.dir, join(target, 'sub', 'deeper'))
    await restoreTree(repo, tree, target, {force: true})
    expect(walkTree(target)).toEqual(walkTree(src))
    expect(deepVictim.listing()).toEqual(['victim.txt'])
  })

  it('with --force makes the target match: extra entries removed, changed files rewritten', async () => {
    const target = join(scratch.path, 'forced')
    makeTree(target, {'a.txt': 'old content that is longer than the new', extra: {dir: {x: 'x'}}, 'extra.txt': 'x', sub: 'now a file'})
    const r = await restoreTree(repo, tree, target, {force: true})
    expect(r.removed).toBeGreaterThanOrEqual(2)
    expect(walkTree(target)).toEqual(walkTree(src))
    expect(readFileSync(join(target, 'a.txt'), 'utf8')).toBe('snapshot a\n')
  })

  it('with --force gives existing directories and files the modes of the snapshot (0755, 0644)', async () => {
    const target = join(scratch.path, 'modes')
    makeTree(target, {'a.txt': {exec: 'snapshot a\n'}, sub: {dir: {deeper: {dir: {}}}}})
    chmodSync(join(target, 'sub'), 0o700)
    chmodSync(join(target, 'sub', 'deeper'), 0o777)
    await restoreTree(repo, tree, target, {force: true})
    expect(lstatSync(join(target, 'a.txt')).mode & 0o7777).toBe(0o644)
    expect(lstatSync(join(target, 'sub')).mode & 0o7777).toBe(0o755)
    expect(lstatSync(join(target, 'sub', 'deeper')).mode & 0o7777).toBe(0o755)
  })

  describe('a hostile repository', () => {
    const blob = Buffer.from('payload\n')
    const blobId = hash(blob)
    for (const name of ['..', '.', '', 'a/b', '../escape', '/abs', 'nul\0byte']) {
      it(`fails with ERR_VELO_UNSAFE_PATH and writes nothing outside the target: entry named ${JSON.stringify(name)}`, async () => {
        const [evil] = writeObjects(repo, [
          {type: ObjectType.blob, bytes: blob},
          {type: ObjectType.tree, bytes: rawTree([{code: 1, name, size: blob.length, id: blobId}])},
        ]).slice(1)
        const root = rawTree([{code: 4, name: 'dir', size: blob.length, id: Buffer.from(evil, 'hex')}])
        const [rootId] = writeObjects(repo, [{type: ObjectType.tree, bytes: root}])
        snapshotOf(repo, rootId, 'evil')
        const parent = join(scratch.path, `hostile-${hash(Buffer.from(name)).toString('hex').slice(0, 8)}`)
        mkdirSync(parent)
        const e = await restoreError(restoreTree(repo, rootId, join(parent, 'target')))
        expect(e.code).toBe('ERR_VELO_UNSAFE_PATH')
        expect(readdirSync(parent).filter((n) => n !== 'target')).toEqual([])
        expect(existsSync(join(scratch.path, 'escape'))).toBe(false)
        expect(existsSync('/abs')).toBe(false)
      })
    }
  })
})
