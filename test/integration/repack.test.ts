import {statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {fsck} from '../../src/maintenance/fsck.js'
import {countMetaPacks, maybeAutoRepack, repack, treeOrder} from '../../src/maintenance/repack.js'
import {Repository} from '../../src/repo/Repository.js'
import {restoreTree} from '../../src/restore/restoreTree.js'
import {DAY, agePacks, files, idAt, openRepo, packNames, reopen, snap} from '../helpers/maintenance.js'
import {checkRepository} from '../helpers/repoCheck.js'
import {scratchDir, walkTree, writeRandomFile} from '../helpers/trees.js'

const scratch = scratchDir('velo-repack-')
afterAll(() => scratch.cleanup())
let n = 0
const fresh = (): string => join(scratch.path, `t${n++}`)

describe('repack', () => {
  it('merges the small packs of many snapshots into one per kind, in tree order, losing nothing', async () => {
    const d = fresh()
    let repo = openRepo(join(d, 'repo'))
    const tree = join(d, 't')
    await snap(repo, tree, 'app', {...files('a', 10), sub: {dir: files('s', 10)}})
    writeRandomFile(join(tree, 'big.bin'), 5 << 20, 'repack')
    for (let i = 0; i < 6; i++) {
      writeFileSync(join(tree, `a${i}.txt`), `version ${i}\n`)
      await snap(repo, tree, 'app')
    }
    await snap(repo, join(d, 'other'), 'other', files('o', 5))
    const before = checkRepository(repo)
    expect(countMetaPacks(repo)).toBe(8)
    const r = await repack(repo)
    expect(r.removedPacks.length).toBeGreaterThanOrEqual(10)
    repo = reopen(repo)
    expect(packNames(repo, 'm')).toHaveLength(1)
    expect(packNames(repo, 'd')).toHaveLength(1)
    expect(checkRepository(repo)).toEqual(before)
    expect(await fsck(repo)).toMatchObject({ok: true, problems: []})
    // Tree order: within the metadata pack, objects follow the walk from the refs.
    const rank = treeOrder(repo)
    const meta = repo.packs.packs.find((p) => p.index.kind === 'meta')!
    const placed = Array.from({length: meta.index.count}, (_, i) => ({rank: rank.get(meta.index.oidAt(i)) ?? Infinity, rec: meta.index.record(i)}))
    placed.sort((a, b) => a.rec.blockOffset - b.rec.blockOffset || a.rec.offset - b.rec.offset)
    const ranks = placed.map((p) => p.rank).filter((x) => x !== Infinity)
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b))
    // And the tree restores to what was snapshotted.
    const out = join(d, 'out')
    await restoreTree(repo, repo.readSnapshot(repo.resolveSnapshot('app')).tree, out)
    expect(walkTree(out)).toEqual(walkTree(tree))
    // Nothing left to do.
    expect((await repack(repo)).removedPacks).toEqual([])
  })

  it('keeps old and young objects apart, so garbage still ages', async () => {
    const d = fresh()
    let repo = openRepo(join(d, 'repo'))
    await snap(repo, join(d, 'a'), 'a', files('a', 3))
    await snap(repo, join(d, 'b'), 'b', files('b', 3))
    agePacks(repo, 30 * DAY)
    const oldPacks = packNames(repo).length
    await snap(repo, join(d, 'c'), 'c', files('c', 3))
    await snap(repo, join(d, 'e'), 'e', files('e', 3))
    expect(packNames(repo)).toHaveLength(oldPacks + 4)
    await repack(repo)
    repo = reopen(repo)
    const ages = packNames(repo).map((name) => Date.now() - statSync(join(repo.packsDir, `${name}.pack`)).mtimeMs)
    expect(ages.filter((a) => a > 29 * DAY)).toHaveLength(2)
    expect(ages.filter((a) => a < DAY)).toHaveLength(2)
    expect((await fsck(repo)).ok).toBe(true)
  })

  it('repacks metadata by itself once there are more packs than the threshold', async () => {
    const d = fresh()
    let repo = openRepo(join(d, 'repo'))
    const tree = join(d, 't')
    for (let i = 0; i < 4; i++) await snap(repo, tree, 'x', files('f', 3, String(i)))
    expect(await maybeAutoRepack(repo, {threshold: 4})).toBeUndefined()
    await snap(repo, tree, 'x', files('f', 3, 'last'))
    const r = await maybeAutoRepack(repo, {threshold: 4})
    expect(r?.removedPacks.every((p) => p.startsWith('m-'))).toBe(true)
    repo = reopen(repo)
    expect(countMetaPacks(repo)).toBe(1)
    expect(packNames(repo, 'd')).toHaveLength(5)
    expect((await fsck(repo)).ok).toBe(true)
  })

  it('does not disturb a reader that loaded the old packs', async () => {
    const d = fresh()
    const repo = openRepo(join(d, 'repo'))
    const tree = join(d, 't')
    const s1 = await snap(repo, tree, 'x', files('f', 20))
    await snap(repo, tree, 'y', files('g', 20))
    const reader = Repository.open(repo.root)
    expect(reader.packs.readContent(idAt(reader, s1.id, 'f1.txt')).toString()).toMatch(/^f file 1/)
    await repack(repo)
    // The reader still lists the removed packs; reading from one of them finds the new pack.
    expect(reader.packs.readContent(idAt(reader, s1.id, 'f2.txt')).toString()).toMatch(/^f file 2/)
    expect(checkRepository(reader).files).toBe(40)
    reader.close()
  })
})
