import {cpSync, mkdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import type {Oid} from '../../src/objects/oid.js'
import {ObjectType} from '../../src/pack/block.js'
import {PackIndex} from '../../src/pack/packIndex.js'
import {fsck} from '../../src/maintenance/fsck.js'
import {repairRepository} from '../../src/maintenance/repair.js'
import {Repository} from '../../src/repo/Repository.js'
import {files, idAt, openRepo, packNames, reopen, snap} from '../helpers/maintenance.js'
import {checkRepository} from '../helpers/repoCheck.js'
import {flipByte, randomBytes, scratchDir, writeRandomFile} from '../helpers/trees.js'

const scratch = scratchDir('velo-fsck-')
afterAll(() => scratch.cleanup())
let n = 0
const fresh = (): string => join(scratch.path, `t${n++}`)

/** A repository with two snapshots (one with a chunked file) and a copy of it to repair from. */
async function setup(): Promise<{d: string; repo: Repository; backup: string; big: Oid; small: Oid; snapId: Oid}> {
  const d = fresh()
  const repo = openRepo(join(d, 'repo'))
  const tree = join(d, 't')
  await snap(repo, tree, 'app', {...files('a', 30), sub: {dir: files('s', 5)}})
  writeRandomFile(join(tree, 'big.bin'), 3 << 20, 'fsck-big')
  const s = await snap(repo, tree, 'app')
  const backup = join(d, 'backup')
  cpSync(repo.root, backup, {recursive: true})
  return {d, repo, backup, big: idAt(repo, s.id, 'big.bin'), small: idAt(repo, s.id, 'sub/s2.txt'), snapId: s.id}
}

/** The pack holding `id`, and where (file offset) its block's stored bytes start. */
function whereIs(repo: Repository, id: Oid): {pack: string; path: string; offset: number} {
  const loc = repo.packs.find(id)!
  return {pack: loc.pack.name, path: loc.pack.path, offset: loc.record.blockOffset + 12}
}

describe('fsck', () => {
  it('finds nothing wrong in a sound repository, and remembers what it verified', async () => {
    const {repo} = await setup()
    const r = await fsck(repo)
    expect(r).toMatchObject({ok: true, complete: true, problems: [], refs: 1, reflogEntries: 2})
    expect(r.packs.verified).toBe(r.packs.total)
    const state = JSON.parse(readFileSync(join(repo.cacheDir, 'fsck.json'), 'utf8'))
    expect(Object.keys(state.verified).sort()).toEqual(packNames(repo))
  })

  it('with a time limit, checks the least recently verified packs first and goes on next time', async () => {
    const {repo} = await setup()
    const seen: string[][] = []
    for (let i = 0; i < 5; i++) {
      const r = (await fsck(repo, {maxDurationMs: 0})) // one pack per run
      expect(r.packs.verified).toBe(1)
      expect(r.ok).toBe(true)
      const state = JSON.parse(readFileSync(join(repo.cacheDir, 'fsck.json'), 'utf8')) as {verified: Record<string, number>}
      seen.push(Object.entries(state.verified).sort((a, b) => a[1] - b[1]).map(([k]) => k))
    }
    const all = packNames(repo)
    // After as many runs as there are packs, every pack has been verified once.
    expect(new Set(seen[all.length - 1])).toEqual(new Set(all))
    expect((await fsck(repo, {maxDurationMs: 0})).complete).toBe(all.length === 1)
  })

  it('a flipped byte in a pack: reads fail with ERR_VELO_CORRUPT, fsck names the object, pack and path, repair restores it', async () => {
    const {repo, backup, small, snapId} = await setup()
    const at = whereIs(repo, small)
    flipByte(at.path, at.offset + 5)
    const r1 = reopen(repo)
    expect(() => r1.packs.readContent(small)).toThrow(expect.objectContaining({code: 'ERR_VELO_CORRUPT', message: expect.stringContaining(at.pack)}))
    const r = await fsck(r1)
    expect(r.ok).toBe(false)
    // The whole block is damaged: every object in it, each with its pack and referrer.
    const damaged = r.problems.filter((p) => p.kind === 'object-damaged')
    expect(damaged.length).toBeGreaterThan(0)
    expect(damaged.every((p) => p.pack === at.pack)).toBe(true)
    expect(damaged).toContainEqual(expect.objectContaining({id: small, referencedBy: [`ref app: snapshot ${snapId.slice(0, 12)}, path sub/s2.txt`]}))
    expect(r.problems).toContainEqual(expect.objectContaining({kind: 'pack-damaged', pack: at.pack, message: expect.stringMatching(/trailer/)}))
    expect(r.problems.filter((p) => p.kind !== 'object-damaged' && p.kind !== 'pack-damaged')).toEqual([])

    // Without a remote: salvage what still verifies, quarantine the pack, say what is missing.
    const local = await repairRepository(r1.root)
    expect(local.ok).toBe(false)
    expect(local.quarantined).toEqual([`${at.pack}.idx`, `${at.pack}.pack`])
    expect(local.unrecoverable).toContain(small)
    expect(local.after.problems.every((p) => p.kind === 'object-missing')).toBe(true)
    // With one: fetch exactly what is missing.
    const full = await repairRepository(r1.root, {from: backup})
    expect(full).toMatchObject({ok: true, unrecoverable: []})
    expect(full.fetched.objects).toBe(local.unrecoverable.length)
    const r2 = Repository.open(r1.root)
    expect(checkRepository(r2).files).toBe(36)
    expect((await fsck(r2)).ok).toBe(true)
  })

  it('worker threads report exactly what the calling thread does', async () => {
    const {repo, big, small} = await setup()
    const sound = await fsck(reopen(repo), {threads: 2}) // chunked files checked as a whole in a worker too
    expect(sound).toMatchObject({ok: true, problems: []})
    for (const id of [small, repo.packs.chunksOf(big)[1].id]) {
      const at = whereIs(repo, id)
      flipByte(at.path, at.offset + 7)
    }
    const strip = (r: Awaited<ReturnType<typeof fsck>>): unknown => ({...r, durationMs: 0})
    const inline = await fsck(reopen(repo), {threads: 0})
    const threaded = await fsck(reopen(repo), {threads: 2})
    expect(inline.ok).toBe(false)
    expect(inline.problems.filter((p) => p.kind === 'pack-damaged').length).toBe(2)
    expect(strip(threaded)).toEqual(strip(inline))
  })

  it('checks a chunked file whose chunks span packs as a whole, and blames a damaged chunk, not the file', async () => {
    const d = fresh()
    const repo = openRepo(join(d, 'repo'))
    const tree = join(d, 't')
    mkdirSync(tree, {recursive: true})
    writeRandomFile(join(tree, 'big.bin'), 3 << 20, 'span-a')
    await snap(repo, tree, 'app')
    // The same bytes and more: the first chunks are shared with the old file (in the old pack).
    writeFileSync(join(tree, 'big.bin'), Buffer.concat([readFileSync(join(tree, 'big.bin')), randomBytes(2 << 20, 'span-b')]))
    const s = await snap(repo, tree, 'app')
    const big = idAt(repo, s.id, 'big.bin')
    const chunks = repo.packs.chunksOf(big)
    const packs = new Set(chunks.map((c) => repo.packs.find(c.id)!.pack.name))
    expect(packs.size).toBe(2)
    for (const threads of [0, 2]) expect(await fsck(reopen(repo), {threads})).toMatchObject({ok: true, problems: []})
    // A byte of the first chunk (in the old pack; random data is stored raw, so its bytes sit at their offset in the block).
    const loc = repo.packs.find(chunks[0].id)!
    flipByte(loc.pack.path, loc.record.blockOffset + 12 + loc.record.offset + 10)
    for (const threads of [0, 2]) {
      const r = await fsck(reopen(repo), {threads})
      expect(r.ok).toBe(false)
      expect(r.problems).toContainEqual(expect.objectContaining({kind: 'object-damaged', id: chunks[0].id}))
      expect(r.problems.find((p) => p.id === big && p.kind === 'object-damaged' && !p.message.includes('blob'))).toBeUndefined()
    }
  })

  it('a truncated index: reads fail naming it, fsck reports it, repair rebuilds it without a remote', async () => {
    const {repo, snapId} = await setup()
    const meta = whereIs(repo, snapId).pack
    const idx = join(repo.packsDir, `${meta}.idx`)
    const good = readFileSync(idx)
    truncateSync(idx, 100)
    const r1 = reopen(repo)
    expect(() => r1.resolveSnapshot('app')).toThrow(expect.objectContaining({code: 'ERR_VELO_CORRUPT', message: expect.stringContaining(`index of pack ${meta} is damaged`)}))
    const r = await fsck(r1)
    expect(r.problems).toContainEqual(expect.objectContaining({kind: 'index-damaged', pack: meta}))
    expect(r.problems).toContainEqual(expect.objectContaining({kind: 'object-missing', referencedBy: expect.arrayContaining(['ref app'])}))
    const fixed = await repairRepository(r1.root)
    expect(fixed).toMatchObject({ok: true, rebuiltIndexes: [meta]})
    expect(readFileSync(idx).equals(good)).toBe(true) // the very same index
    expect(checkRepository(Repository.open(r1.root)).files).toBe(36)
  })

  it('a deleted pack: reads fail naming it, fsck lists the lost objects that are referenced, repair fetches them', async () => {
    const {repo, backup, big} = await setup()
    const at = whereIs(repo, big)
    rmSync(at.path)
    const r1 = reopen(repo)
    expect(() => r1.packs.read(big, ObjectType.chunkList)).toThrow(expect.objectContaining({code: 'ERR_VELO_CORRUPT', message: expect.stringContaining(`pack ${at.pack} is missing`)}))
    const r = await fsck(r1)
    expect(r.problems[0]).toMatchObject({kind: 'pack-missing', pack: at.pack})
    const lost = r.problems.filter((p) => p.kind === 'object-damaged')
    expect(lost).toContainEqual(expect.objectContaining({id: big, pack: at.pack, referencedBy: [expect.stringMatching(/path big\.bin$/)]}))
    expect(lost.every((p) => p.referencedBy && p.pack === at.pack)).toBe(true)
    const fixed = await repairRepository(r1.root, {from: backup})
    expect(fixed.ok).toBe(true)
    expect(checkRepository(Repository.open(r1.root)).files).toBe(36)
  })

  it('an index that lost its pack name entry: a pack without an index is indexed again', async () => {
    const {repo} = await setup()
    const data = packNames(repo, 'd')[0]
    renameSync(join(repo.packsDir, `${data}.idx`), join(scratch.path, `${data}.idx.away`))
    const r1 = reopen(repo)
    const r = await fsck(r1)
    expect(r.warnings).toContainEqual(expect.stringMatching(new RegExp(`pack ${data} has no index`)))
    const fixed = await repairRepository(r1.root)
    expect(fixed).toMatchObject({ok: true, rebuiltIndexes: [data]})
    expect(new PackIndex(readFileSync(join(repo.packsDir, `${data}.idx`))).count).toBeGreaterThan(0)
    expect(checkRepository(Repository.open(r1.root)).files).toBe(36)
  })

  it('file contents a remote has promised (a metadata-only pull) are not damage', async () => {
    const {repo, backup} = await setup()
    // As after `velo pull --metadata-only`: trees and snapshots here, contents listed in the
    // remote's cached indexes only.
    const cache = join(repo.root, 'remotes-cache', 'origin')
    mkdirSync(cache, {recursive: true})
    for (const name of packNames(repo, 'd')) {
      cpSync(join(backup, 'packs', `${name}.idx`), join(cache, `${name}.idx`))
      rmSync(join(repo.packsDir, `${name}.pack`))
      rmSync(join(repo.packsDir, `${name}.idx`))
    }
    const r = await fsck(reopen(repo))
    expect(r).toMatchObject({ok: true, problems: []})
    expect(r.warnings).toEqual([expect.stringMatching(/^\d+ file contents are not here yet: remote origin has them/)])
  })

  it('a damaged ref is reported, the rest still checked', async () => {
    const {repo} = await setup()
    writeFileSync(join(repo.root, 'refs', 'broken'), 'not an id\n')
    const r = await fsck(reopen(repo))
    expect(r.problems).toEqual([expect.objectContaining({kind: 'ref-damaged', message: expect.stringMatching(/^ref broken: /)})])
    expect(r.refs).toBe(1)
  })
})
