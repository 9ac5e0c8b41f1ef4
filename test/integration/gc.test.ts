import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import type {Oid} from '../../src/objects/oid.js'
import {fsck} from '../../src/maintenance/fsck.js'
import {explainObject, gc} from '../../src/maintenance/gc.js'
import {ObjectType} from '../../src/pack/block.js'
import {PackWriter} from '../../src/pack/PackWriter.js'
import {ObjectWriter} from '../../src/store/ObjectWriter.js'
import {DAY, agePacks, files, has, idAt, openRepo, packNames, reopen, snap, writeHolder} from '../helpers/maintenance.js'
import {checkRepository} from '../helpers/repoCheck.js'
import {scratchDir, writeRandomFile} from '../helpers/trees.js'

const scratch = scratchDir('velo-gc-')
afterAll(() => scratch.cleanup())
let n = 0
const fresh = (): string => join(scratch.path, `t${n++}`)

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'}).stdout)
}

describe('gc', () => {
  it('deletes unreachable objects only after the grace period and the reflog expire', async () => {
    const d = fresh()
    let repo = openRepo(join(d, 'repo'))
    const keep = await snap(repo, join(d, 'keep'), 'keep', files('k', 20))
    const drop = await snap(repo, join(d, 'drop'), 'drop', files('x', 20))
    const dropBlob = idAt(repo, drop.id, 'x3.txt')
    repo.refs.update('drop', {to: null, expect: drop.id, command: 'test'})

    // Young: nothing goes.
    let r = await gc(repo, {pruneMs: 14 * DAY})
    expect(r).toMatchObject({deletedObjects: 0, removedPacks: []})
    expect(has(repo, dropBlob)).toBe(true)
    // Old, but the reflog still names the dropped snapshot (90 days by default).
    agePacks(repo, 20 * DAY)
    r = await gc(repo)
    expect(r.deletedObjects).toBe(0)
    expect(explainObject(repo, dropBlob)).toMatchObject({status: 'reachable', keptBy: {rootKind: 'reflog', path: 'x3.txt'}})
    // Dry run: says what would go, changes nothing.
    const before = packNames(repo)
    r = await gc(repo, {reflogExpireMs: 0, dryRun: true})
    expect(r.deletedObjects).toBe(22) // 20 files, a tree, a snapshot
    expect(r.expiredReflogEntries).toBe(3)
    expect(packNames(repo)).toEqual(before)
    // For real.
    r = await gc(repo, {reflogExpireMs: 0})
    expect(r).toMatchObject({deletedObjects: 22, removedPacks: expect.arrayContaining([expect.stringMatching(/^d-/), expect.stringMatching(/^m-/)])})
    repo = reopen(repo)
    expect(has(repo, dropBlob)).toBe(false)
    expect(has(repo, drop.id)).toBe(false)
    expect(repo.refs.readLog('drop')).toEqual([])
    expect(checkRepository(repo)).toMatchObject({refs: 1, files: 20})
    expect(await fsck(repo)).toMatchObject({ok: true, problems: []})
    expect(repo.resolveSnapshot('keep')).toBe(keep.id)
  })

  it('rewrites packs that are partly garbage and keeps the age of what it keeps', async () => {
    const d = fresh()
    let repo = openRepo(join(d, 'repo'))
    const tree = join(d, 't')
    const s1 = await snap(repo, tree, 'app', {...files('a', 30), big: Buffer.alloc(0)})
    writeRandomFile(join(tree, 'big'), 3 << 20, 'gc-big') // chunked
    writeFileSync(join(tree, 'a1.txt'), 'changed\n')
    const s2 = await snap(repo, tree, 'app')
    const oldA1 = idAt(repo, s1.id, 'a1.txt')
    // One pack per kind: the old content of a1 sits among live objects.
    const {repack} = await import('../../src/maintenance/repack.js')
    await repack(repo)
    expect(packNames(repo)).toHaveLength(2)
    repo.refs.update('app', {to: s2.id, expect: s2.id, command: 'test'})
    agePacks(repo, 30 * DAY)
    const t0 = Date.now() - 30 * DAY
    // s1 stays in history (s2's parent): nothing to delete.
    expect((await gc(repo, {reflogExpireMs: 0})).deletedObjects).toBe(0)
    // Drop history: point app at a new snapshot of s2's tree without parents.
    const w = new ObjectWriter(repo)
    const lone = w.writeSnapshot({tree: repo.readSnapshot(s2.id).tree, parents: [], time: Date.now(), user: 't', host: 'h', message: 'no history', meta: {}})
    w.commit()
    repo.refs.update('app', {to: lone, expect: s2.id, command: 'test'})
    // With the default grace, only the metadata pack has enough garbage (>= 10 %) to be rewritten.
    expect(await gc(repo, {reflogExpireMs: 0, dryRun: true})).toMatchObject({deletedObjects: 3, keptGarbageObjects: 2, rewrittenPacks: [expect.stringMatching(/^m-/)]})
    // --prune now rewrites every pack with garbage: s1, s2, s1's root tree, the old a1 and the
    // empty file that big was in s1.
    const r = await gc(repo, {reflogExpireMs: 0, pruneMs: 0})
    expect(r.deletedObjects).toBe(5)
    expect(r.rewrittenPacks).toHaveLength(2)
    repo = reopen(repo)
    expect(has(repo, oldA1)).toBe(false)
    expect(checkRepository(repo)).toMatchObject({refs: 1, files: 31})
    expect((await fsck(repo)).ok).toBe(true)
    // The rewritten packs keep their old age: rewriting is no reason to keep garbage longer.
    for (const name of r.newPacks) expect(Math.abs(statMtime(join(repo.packsDir, `${name}.pack`)) - t0)).toBeLessThan(5000)
  })

  it('keeps an object whose other copy sits in a pack it removes (duplicates left by a crash)', async () => {
    const d = fresh()
    let repo = openRepo(join(d, 'repo'))
    const live = await snap(repo, join(d, 'live'), 'live', files('l', 10))
    const dead = await snap(repo, join(d, 'dead'), 'dead', files('g', 10))
    const {repack} = await import('../../src/maintenance/repack.js')
    await repack(repo) // one data pack: live and dead files together
    repo = reopen(repo)
    repo.refs.update('dead', {to: null, expect: dead.id, command: 'test'})
    // A second copy of the live files only, as a gc killed after writing its new pack leaves.
    const mixed = repo.packs.packs.find((p) => p.index.kind === 'data')!
    const w = new PackWriter({packsDir: repo.packsDir, tmpDir: repo.tmpDir, kind: 'data', level: 3})
    const liveIds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => idAt(repo, live.id, `l${i}.txt`))
    for (const id of liveIds) w.addObject(Buffer.from(id, 'hex'), ObjectType.blob, repo.packs.read(id).data)
    repo.commitPacks(w.finish())
    // The mixed pack is found first: its live copies are the marked ones.
    const copy = repo.packs.packs.find((p) => p.index.kind === 'data' && p !== mixed)!
    repo.packs.packs = [...repo.packs.packs.filter((p) => p !== copy), copy]
    agePacks(repo, 30 * DAY)
    const r = await gc(repo, {reflogExpireMs: 0, pruneMs: 0})
    expect(r.removedPacks).toContain(copy.name)
    expect(r.rewrittenPacks).toContain(mixed.name)
    repo = reopen(repo)
    for (const id of liveIds) expect(has(repo, id)).toBe(true)
    expect(checkRepository(repo).files).toBe(10)
    expect((await fsck(repo)).ok).toBe(true)
  })

  it('keeps whatever a young tree references, even unreachable (the stat cache relies on it)', async () => {
    const d = fresh()
    let repo = openRepo(join(d, 'repo'))
    const s = await snap(repo, join(d, 't'), 'x', files('f', 10))
    const blob = idAt(repo, s.id, 'f4.txt')
    const other = idAt(repo, s.id, 'f5.txt')
    repo.refs.update('x', {to: null, expect: s.id, command: 'test'})
    agePacks(repo, 30 * DAY)
    // A young tree (unreachable: no snapshot, no ref) that reuses the old blob.
    const w = new ObjectWriter(repo)
    const young = w.writeTree([{name: 'again.txt', kind: 'file', size: 10, id: blob}])
    w.commit()
    const r = await gc(repo, {reflogExpireMs: 0})
    expect(r.roots.young).toBe(1)
    repo = reopen(repo)
    expect(has(repo, blob)).toBe(true)
    expect(has(repo, other)).toBe(false)
    expect(has(repo, s.id)).toBe(false)
    expect(explainObject(repo, blob)).toMatchObject({status: 'young', keptBy: {rootKind: 'young', path: 'again.txt'}})
    expect(explainObject(repo, young)).toMatchObject({status: 'young'})
    expect((await fsck(repo)).ok).toBe(true)
  })

  it('keeps what live mounts and leases name, and ignores holders that are gone', async () => {
    const d = fresh()
    let repo = openRepo(join(d, 'repo'))
    const a = await snap(repo, join(d, 'a'), 'a', files('a', 5))
    const b = await snap(repo, join(d, 'b'), 'b', files('b', 5))
    const c = await snap(repo, join(d, 'c'), 'c', files('c', 5))
    for (const s of [a, b, c]) repo.refs.update(s.ref!, {to: null, expect: s.id, command: 'test'})
    agePacks(repo, 30 * DAY)
    // The mount registry's layout: mounts/<id>/mount.json (kept with "ended" after unmount).
    writeHolder(repo, 'mounts', 'm1/mount.json', {id: 'm1', pid: process.pid, snapshot: a.id, mountpoint: '/mnt/x', since: new Date().toISOString()})
    writeHolder(repo, 'mounts', 'old/mount.json', {id: 'old', pid: deadPid(), snapshot: c.id, ended: new Date().toISOString()})
    mkdirSync(join(repo.root, 'mounts', 'm1', 'upper', 'sub'), {recursive: true})
    writeFileSync(join(repo.root, 'mounts', 'm1', 'upper', 'sub', 'x.json'), JSON.stringify({snapshot: c.id})) // user data, not a record
    writeHolder(repo, 'leases', 'pull-1.json', {pid: process.pid, roots: [b.id, '0'.repeat(64)], command: 'pull'})
    writeHolder(repo, 'mounts', 'gone/mount.json', {pid: deadPid(), snapshot: c.id})
    const warnings: string[] = []
    const r = await gc(repo, {reflogExpireMs: 0, onWarning: (m) => warnings.push(m)})
    expect(r.roots).toMatchObject({mounts: 1, leases: 2})
    expect(warnings).toEqual([
      expect.stringMatching(/^ignored mounts\/gone\/mount\.json: process \d+ is no longer running$/),
      `lease leases/pull-1.json names object ${'0'.repeat(64)}, which is not in the repository`,
    ])
    repo = reopen(repo)
    expect(has(repo, a.id) && has(repo, b.id)).toBe(true)
    expect(has(repo, idAt(repo, a.id, 'a2.txt'))).toBe(true)
    expect(has(repo, c.id)).toBe(false)
    expect(explainObject(repo, a.id)).toMatchObject({status: 'reachable', keptBy: {rootKind: 'mount', root: 'mounts/m1/mount.json'}})
  })

  it('refuses to delete anything when it cannot see the whole graph', async () => {
    const d = fresh()
    const repo = openRepo(join(d, 'repo'))
    await snap(repo, join(d, 't'), 'x', files('f', 5))
    agePacks(repo, 30 * DAY)
    const idx = join(repo.packsDir, `${packNames(repo, 'm')[0]}.idx`)
    writeFileSync(idx, 'garbage')
    const before = packNames(repo)
    await expect(gc(reopen(repo), {pruneMs: 0})).rejects.toMatchObject({code: 'ERR_VELO_CORRUPT', message: expect.stringMatching(/index of pack m-.* is damaged/)})
    expect(packNames(repo)).toEqual(before)
  })

  it('removes temporary files and unindexed packs left by killed commands', async () => {
    const d = fresh()
    const repo = openRepo(join(d, 'repo'))
    await snap(repo, join(d, 't'), 'x', files('f', 3))
    mkdirSync(repo.tmpDir, {recursive: true})
    const oldTmp = join(repo.tmpDir, '.pack.1.aa.tmp')
    const newTmp = join(repo.tmpDir, '.pack.2.bb.tmp')
    writeFileSync(oldTmp, 'x')
    writeFileSync(newTmp, 'x')
    const t = new Date(Date.now() - 2 * 3_600_000)
    utimesSync(oldTmp, t, t)
    // Staging directories of a killed pull: gone once nothing in them changed for an hour.
    const oldStage = join(repo.tmpDir, 'pull-1-aa')
    const liveStage = join(repo.tmpDir, 'pull-2-bb')
    for (const dir of [oldStage, liveStage]) {
      mkdirSync(dir)
      writeFileSync(join(dir, 'x.pack'), 'x')
      utimesSync(join(dir, 'x.pack'), t, t)
      utimesSync(dir, t, t)
    }
    writeFileSync(join(liveStage, 'y.pack'), 'y') // written just now
    const orphan = join(repo.packsDir, `d-${'ab'.repeat(32)}.pack`)
    writeFileSync(orphan, 'partial')
    const r = await gc(repo)
    expect(r.removedTmpFiles).toBe(2)
    expect(existsSync(oldTmp)).toBe(false)
    expect(existsSync(newTmp)).toBe(true)
    expect(existsSync(oldStage)).toBe(false)
    expect(existsSync(liveStage)).toBe(true)
    expect(existsSync(orphan)).toBe(true) // young
    utimesSync(orphan, t, t)
    expect((await gc(repo, {pruneMs: 3_600_000})).removedOrphanPacks).toEqual([`d-${'ab'.repeat(32)}`])
    expect(readdirSync(repo.packsDir).some((f) => f.startsWith('d-abab'))).toBe(false)
  })

  it('explains objects that are garbage or absent', async () => {
    const d = fresh()
    const repo = openRepo(join(d, 'repo'))
    const s = await snap(repo, join(d, 't'), 'x', files('f', 3))
    const blob = idAt(repo, s.id, 'f1.txt')
    expect(explainObject(repo, blob)).toMatchObject({status: 'reachable', type: 'blob', keptBy: {root: 'x', rootKind: 'ref', snapshot: s.id, path: 'f1.txt'}})
    repo.refs.update('x', {to: null, expect: s.id, command: 'test'})
    agePacks(repo, 30 * DAY)
    expect(explainObject(repo, blob, {reflogExpireMs: 0})).toMatchObject({status: 'garbage'})
    expect(explainObject(repo, ('0'.repeat(64)) as Oid)).toMatchObject({status: 'absent', present: false})
  })
})

function statMtime(p: string): number {
  return statSync(p).mtimeMs
}
