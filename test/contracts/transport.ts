/**
 * The contract every transport keeps (restic's backend test suite, go-git's storage tests): the
 * Transport operations themselves, then push, pull, clone and lazy fetches through it, including
 * conflicts, missing and corrupted remote objects, and transient failures.
 * Use: describeTransport('file', () => fileRemote()).
 */
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it, onTestFinished} from 'vitest'
import {clone} from '../../src/api/clone.js'
import {pull} from '../../src/api/pull.js'
import {push} from '../../src/api/push.js'
import {snapshot} from '../../src/api/snapshot.js'
import type {Oid} from '../../src/objects/oid.js'
import {LazyFetcher} from '../../src/remote/LazyFetcher.js'
import {addRemote} from '../../src/remote/RemoteConfig.js'
import {isPreconditionFailed, type Transport} from '../../src/remote/Transport.js'
import {withRetry} from '../../src/remote/withRetry.js'
import {openTransport} from '../../src/remote/openTransport.js'
import {Repository, initRepository} from '../../src/repo/Repository.js'
import {restoreTree} from '../../src/restore/restoreTree.js'
import {VeloError} from '../../src/util/errors.js'
import type {RemoteFixture} from '../helpers/remotes.js'
import {checkRepository} from '../helpers/repoCheck.js'
import {CountingTransport, FlakyTransport, GateTransport} from '../helpers/transports.js'
import {makeTree, randomBytes, writeRandomFile, type Spec} from '../helpers/trees.js'

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'velo-contract-'))
  onTestFinished(() => rmSync(d, {recursive: true, force: true}))
  return d
}

function newRepo(dir: string, fx: RemoteFixture): Repository {
  initRepository(dir)
  const repo = Repository.open(dir)
  onTestFinished(() => repo.close())
  addRemote(repo, 'origin', fx.spec.url, {endpoint: fx.spec.endpoint})
  return repo
}

async function snap(repo: Repository, dir: string, spec: Record<string, Spec>, ref = 'app'): Promise<Oid> {
  rmSync(dir, {recursive: true, force: true})
  makeTree(dir, spec)
  return (await snapshot(repo, {dir, ref, threads: 1})).id
}

function files(seed: string): Record<string, Spec> {
  return {
    'a.txt': `alpha ${seed}\n`,
    'pkg/index.js': `module.exports = ${JSON.stringify(seed)}\n`,
    'pkg/lib/util.js': 'x'.repeat(5000),
    'pkg/bin': {exec: '#!/bin/sh\necho hi\n'},
    'link': {symlink: 'a.txt'},
    'empty': {dir: {}},
    'data.bin': randomBytes(300_000, 'data'),
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<VeloError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(VeloError)
    expect((err as VeloError).code, (err as Error).message).toBe(code)
    return err as VeloError
  }
  throw new Error(`expected ${code}, but it succeeded`)
}

function fastRetry(t: Transport): Transport {
  return withRetry(t, {retries: 6, baseDelayMs: 1, maxDelayMs: 5})
}

async function flipByte(t: Transport, key: string, at: number): Promise<void> {
  const got = await t.get(key)
  const data = Buffer.from(got!.data)
  data[at] ^= 0x40
  await t.put(key, data)
}

export function describeTransport(name: string, make: () => Promise<RemoteFixture> | RemoteFixture): void {
  const fixture = async (): Promise<RemoteFixture> => {
    const fx = await make()
    onTestFinished(() => fx.cleanup())
    return fx
  }

  describe(`transport contract: ${name}`, () => {
    it('puts, gets, lists, heads, range-reads and deletes objects', async () => {
      const t = (await fixture()).raw
      expect(await t.get('packs/none')).toBeUndefined()
      expect(await t.head('packs/none')).toBeUndefined()
      expect(await t.list('packs/')).toEqual([])
      const body = randomBytes(70_000, 'obj')
      await t.put('packs/a.pack', body)
      await t.put('refs/app/deps', Buffer.from('x\n'))
      await t.put('refs/top', Buffer.from('y\n'))
      expect((await t.get('packs/a.pack'))!.data.equals(body)).toBe(true)
      expect((await t.get('packs/a.pack', {range: {offset: 1000, length: 5000}}))!.data.equals(body.subarray(1000, 6000))).toBe(true)
      expect((await t.head('packs/a.pack'))!.size).toBe(body.length)
      expect((await t.list('refs/')).map((o) => o.key).sort()).toEqual(['refs/app/deps', 'refs/top'])
      expect((await t.list('packs/')).map((o) => [o.key, o.size])).toEqual([['packs/a.pack', body.length]])
      await t.delete('packs/a.pack')
      await t.delete('packs/a.pack')
      expect(await t.get('packs/a.pack')).toBeUndefined()
    })

    it('writes from a file, large objects included', async () => {
      const t = (await fixture()).raw
      const d = scratch()
      const size = 7 * (1 << 20) + 12345
      writeRandomFile(join(d, 'big'), size, 'big')
      await t.put('packs/big.pack', {file: join(d, 'big'), size})
      const got = await t.get('packs/big.pack')
      expect(got!.data.equals(randomBytes(size, 'big'))).toBe(true)
    })

    it('conditional writes: create-only, replace-if-unchanged, one winner in a race', async () => {
      const t = (await fixture()).raw
      await t.put('refs/r', Buffer.from('one\n'), {ifNoneMatch: '*'})
      await t.put('refs/r', Buffer.from('two\n'), {ifNoneMatch: '*'}).then(() => expect.fail('create over an existing key'), (e) => expect(isPreconditionFailed(e)).toBe(true))
      const cur = await t.get('refs/r')
      expect(cur!.etag).toBeTruthy()
      await t.put('refs/r', Buffer.from('stale\n'), {ifMatch: 'ffffffffffffffffffffffffffffffff'}).then(() => expect.fail('stale etag'), (e) => expect(isPreconditionFailed(e)).toBe(true))
      await t.put('refs/missing', Buffer.from('x\n'), {ifMatch: cur!.etag}).then(() => expect.fail('missing key'), (e) => expect(isPreconditionFailed(e)).toBe(true))
      const base = (await t.get('refs/r'))!
      // Through the retry decorator, as velo always uses it: Ceph RGW answers some losers of a
      // conditional race with HTTP 500, which the retry turns into the precondition failure it is.
      const racer = fastRetry(t)
      const results = await Promise.allSettled(Array.from({length: 6}, (_, i) => racer.put('refs/r', Buffer.from(`racer ${i}\n`), {ifMatch: base.etag})))
      const won = results.filter((r) => r.status === 'fulfilled')
      expect(won).toHaveLength(1)
      for (const r of results) if (r.status === 'rejected') expect(isPreconditionFailed(r.reason)).toBe(true)
      const winner = results.findIndex((r) => r.status === 'fulfilled')
      expect((await t.get('refs/r'))!.data.toString()).toBe(`racer ${winner}\n`)
    })

    it('push then clone gives the same snapshot, files and history', async () => {
      const fx = await fixture()
      const d = scratch()
      const a = newRepo(join(d, 'a'), fx)
      const first = await snap(a, join(d, 'tree'), files('1'))
      const id = await snap(a, join(d, 'tree'), {...files('2'), 'big.bin': randomBytes(3 << 20, 'big')})
      const r = await push(a, {remote: 'origin', refs: ['app']})
      expect(r.refs).toEqual([{ref: 'app', src: 'app', old: null, new: id, status: 'created'}])
      expect(a.refs.read('remotes/origin/app')).toBe(id)
      const keys = (await fx.raw.list('')).map((o) => o.key)
      expect(keys).toContain('velo.json')
      expect(keys).toContain('refs/app')
      for (const k of keys.filter((k) => k.startsWith('packs/'))) expect(k).toMatch(/^packs\/[dm]-[0-9a-f]{64}\.(pack|idx)$/)

      const c = await clone({url: fx.spec.url, path: join(d, 'b'), endpoint: fx.spec.endpoint})
      expect(c.pull.refs[0]).toMatchObject({ref: 'app', remote: id, status: 'created'})
      const b = Repository.open(join(d, 'b'))
      onTestFinished(() => b.close())
      expect(b.refs.read('app')).toBe(id)
      expect(b.refs.read('remotes/origin/app')).toBe(id)
      expect(b.readSnapshot(id).parents).toEqual([first])
      expect(checkRepository(b).snapshots).toBe(2)
      restoreTree(b, b.readSnapshot(id).tree, join(d, 'out'))
      expect(readdirSync(join(d, 'out')).sort()).toEqual(['a.txt', 'big.bin', 'data.bin', 'empty', 'link', 'pkg'])
      expect(b.packs.readContent(b.readTree(b.readSnapshot(id).tree).find((e) => e.name === 'big.bin')!.id).equals(randomBytes(3 << 20, 'big'))).toBe(true)

      const again = await push(a, {remote: 'origin', refs: ['app']})
      expect(again.refs[0].status).toBe('up-to-date')
      expect(again.packs).toBe(0)
    })

    it('sends only what the remote lacks', async () => {
      const fx = await fixture()
      const d = scratch()
      const a = newRepo(join(d, 'a'), fx)
      await snap(a, join(d, 'tree'), files('1'))
      const first = await push(a, {remote: 'origin'})
      const before = (await fx.raw.list('packs/')).length
      const spec = files('1')
      spec['a.txt'] = 'changed\n'
      const id = await snap(a, join(d, 'tree'), spec)
      const second = await push(a, {remote: 'origin'})
      expect(second.refs[0]).toMatchObject({status: 'fast-forward', new: id})
      // the new file, the root tree and the snapshot
      expect(second.objects).toBe(3)
      expect(second.bytes).toBeLessThan(first.bytes / 10)
      expect((await fx.raw.list('packs/')).length).toBe(before + 4)
      const b = (await clone({url: fx.spec.url, path: join(d, 'b'), endpoint: fx.spec.endpoint})).path
      const rb = Repository.open(b)
      onTestFinished(() => rb.close())
      expect(checkRepository(rb).snapshots).toBe(2)
    })

    it('refuses pushes and pulls that do not fast-forward, unless forced', async () => {
      const fx = await fixture()
      const d = scratch()
      const a = newRepo(join(d, 'a'), fx)
      const b = newRepo(join(d, 'b'), fx)
      const ida = await snap(a, join(d, 'ta'), files('a'))
      await push(a, {remote: 'origin'})
      const idb = await snap(b, join(d, 'tb'), files('b'))
      const e = await expectCode(push(b, {remote: 'origin', refs: ['app']}), 'ERR_VELO_NOT_FAST_FORWARD')
      expect(e.hint).toMatch(/--force/)
      expect((await fx.raw.get('refs/app'))!.data.toString().trim()).toBe(ida)
      // pull: the local ref has diverged, so it stays; the tracking ref moves
      const pe = await expectCode(pull(b, {remote: 'origin'}), 'ERR_VELO_NOT_FAST_FORWARD')
      expect(pe.message).toMatch(/diverged/)
      expect(b.refs.read('app')).toBe(idb)
      expect(b.refs.read('remotes/origin/app')).toBe(ida)
      const forced = await push(b, {remote: 'origin', refs: ['app'], force: true})
      expect(forced.refs[0]).toMatchObject({status: 'forced', old: ida, new: idb})
      const pf = await pull(a, {remote: 'origin', force: true})
      expect(pf.refs[0]).toMatchObject({status: 'forced', old: ida, new: idb})
      expect(a.refs.read('app')).toBe(idb)
    })

    it('of two concurrent pushes to one ref, one wins and the other gets a conflict', async () => {
      const fx = await fixture()
      const d = scratch()
      const a = newRepo(join(d, 'a'), fx)
      const b = newRepo(join(d, 'b'), fx)
      const ida = await snap(a, join(d, 'ta'), files('a'))
      const idb = await snap(b, join(d, 'tb'), files('b'))
      const gate = GateTransport.shared(/^refs\/app$/, 2)
      const ta = new GateTransport(await openTransport(fx.spec), gate)
      const tb = new GateTransport(await openTransport(fx.spec), gate)
      const results = await Promise.allSettled([push(a, {remote: 'origin', transport: ta}), push(b, {remote: 'origin', transport: tb})])
      const ok = results.filter((r) => r.status === 'fulfilled')
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      expect(ok).toHaveLength(1)
      expect(failed).toHaveLength(1)
      expect((failed[0].reason as VeloError).code).toBe('ERR_VELO_REF_CONFLICT')
      expect((failed[0].reason as VeloError).hint).toMatch(/pull/)
      const winner = results[0].status === 'fulfilled' ? ida : idb
      expect((await fx.raw.get('refs/app'))!.data.toString().trim()).toBe(winner)
      const c = Repository.open((await clone({url: fx.spec.url, path: join(d, 'c'), endpoint: fx.spec.endpoint})).path)
      onTestFinished(() => c.close())
      expect(c.refs.read('app')).toBe(winner)
      expect(checkRepository(c).files).toBeGreaterThan(0)
    })

    it('rides out transient failures, including replies lost after the write landed', async () => {
      const fx = await fixture()
      const d = scratch()
      const a = newRepo(join(d, 'a'), fx)
      const id = await snap(a, join(d, 'ta'), files('r'))
      const flaky = new FlakyTransport(fx.raw, {every: 3, lostReply: (op, key) => op === 'put' && key.startsWith('refs/')})
      const r = await push(a, {remote: 'origin', transport: fastRetry(flaky)})
      expect(r.refs[0].status).toBe('created')
      expect(flaky.failures).toBeGreaterThan(0)
      const b = newRepo(join(d, 'b'), fx)
      const flaky2 = new FlakyTransport(fx.raw, {every: 2})
      const p = await pull(b, {remote: 'origin', transport: fastRetry(flaky2)})
      expect(p.refs[0]).toMatchObject({status: 'created', remote: id})
      expect(flaky2.failures).toBeGreaterThan(0)
      expect(checkRepository(b).snapshots).toBe(1)
      // Without retries the same failures surface as a clear remote error.
      const c = newRepo(join(d, 'c'), fx)
      const e = await expectCode(pull(c, {remote: 'origin', transport: new FlakyTransport(fx.raw, {every: 2})}), 'ERR_VELO_REMOTE')
      expect(e.message).toMatch(/injected/)
      expect(readdirSync(c.packsDir)).toEqual([])
    })

    it('fails clearly on missing remote objects and installs nothing', async () => {
      const fx = await fixture()
      const d = scratch()
      const a = newRepo(join(d, 'a'), fx)
      await snap(a, join(d, 'ta'), files('m'))
      await push(a, {remote: 'origin'})
      const data = (await fx.raw.list('packs/')).map((o) => o.key).find((k) => /^packs\/d-.*\.pack$/.test(k))!
      // The pack is gone but its index is still listed.
      await fx.raw.delete(data)
      const b = newRepo(join(d, 'b'), fx)
      const e = await expectCode(pull(b, {remote: 'origin'}), 'ERR_VELO_REMOTE')
      expect(e.message).toMatch(/gone/)
      expect(readdirSync(b.packsDir)).toEqual([])
      expect(b.refs.list()).toEqual([])
      // Pack and index gone: the objects are missing from the remote.
      await fx.raw.delete(data.replace(/\.pack$/, '.idx'))
      const e2 = await expectCode(pull(b, {remote: 'origin'}), 'ERR_VELO_NOT_FOUND')
      expect(e2.message).toMatch(/lacks object/)
      expect(readdirSync(b.packsDir)).toEqual([])
      // A remote that was never pushed to is not a velo remote.
      const empty = newRepo(join(d, 'e'), fx)
      await fx.raw.delete('velo.json')
      await expectCode(pull(empty, {remote: 'origin'}), 'ERR_VELO_NOT_FOUND')
    })

    it('rejects a corrupted remote pack: ERR_VELO_CORRUPT, nothing installed', async () => {
      const fx = await fixture()
      const d = scratch()
      const a = newRepo(join(d, 'a'), fx)
      await snap(a, join(d, 'ta'), files('c'))
      await push(a, {remote: 'origin'})
      const data = (await fx.raw.list('packs/')).map((o) => o.key).find((k) => /^packs\/d-.*\.pack$/.test(k))!
      await flipByte(fx.raw, data, 200)
      const b = newRepo(join(d, 'b'), fx)
      const e = await expectCode(pull(b, {remote: 'origin'}), 'ERR_VELO_CORRUPT')
      expect(e.hint).toMatch(/nothing was installed/)
      expect(readdirSync(b.packsDir)).toEqual([])
      expect(b.refs.list()).toEqual([])
      // The lazy path (range reads of single blocks) verifies as well: the reads of objects in the
      // damaged block fail and store nothing, the reads batched with them still succeed.
      await pull(b, {remote: 'origin', metadataOnly: true})
      const tree = b.readTree(b.readSnapshot(b.resolve('app')).tree)
      const f = await LazyFetcher.open(b, 'origin')
      const wanted = [...tree.filter((x) => x.kind === 'file'), ...b.readTree(tree.find((x) => x.name === 'pkg')!.id).filter((x) => x.kind !== 'dir')]
      const results = await Promise.allSettled(wanted.map((x) => f.ensureFile(x.id)))
      const corrupt = results.filter((r) => r.status === 'rejected')
      expect(corrupt.length).toBeGreaterThan(0)
      expect(corrupt.length).toBeLessThan(wanted.length)
      results.forEach((r, i) => {
        const id = wanted[i].id
        if (r.status === 'rejected') {
          expect((r.reason as VeloError).code).toBe('ERR_VELO_CORRUPT')
          expect((r.reason as VeloError).message).toContain(id)
          expect(b.packs.locate(Buffer.from(id, 'hex'))).toBeUndefined()
        } else expect(b.packs.readContent(id).length).toBe(wanted[i].size)
      })
    })

    it('pulls metadata only, then contents later', async () => {
      const fx = await fixture()
      const d = scratch()
      const a = newRepo(join(d, 'a'), fx)
      const id = await snap(a, join(d, 'ta'), files('meta'))
      await push(a, {remote: 'origin'})
      const b = newRepo(join(d, 'b'), fx)
      const r = await pull(b, {remote: 'origin', metadataOnly: true})
      expect(r.metadataOnly).toBe(true)
      expect(b.refs.read('app')).toBe(id)
      expect(readdirSync(b.packsDir).every((f) => f.startsWith('m-'))).toBe(true)
      const root = b.readTree(b.readSnapshot(id).tree)
      expect(root.map((e) => e.name)).toEqual(['a.txt', 'data.bin', 'empty', 'link', 'pkg'])
      expect(() => b.packs.readContent(root[0].id)).toThrow(/not in the repository/)
      const full = await pull(b, {remote: 'origin'})
      expect(full.objects).toBeGreaterThan(0)
      expect(b.packs.readContent(root[0].id).toString()).toBe('alpha meta\n')
      expect(checkRepository(b).files).toBeGreaterThan(3)
    })

    it('lazy fetch reads exactly the blocks it needs, once', async () => {
      const fx = await fixture()
      const d = scratch()
      const a = newRepo(join(d, 'a'), fx)
      const spec: Record<string, Spec> = {}
      for (let i = 0; i < 40; i++) spec[`pkg${i}/index.js`] = randomBytes(20_000, `f${i}`).toString('base64')
      spec['big.bin'] = randomBytes(4 << 20, 'lazy-big')
      const id = await snap(a, join(d, 'ta'), spec)
      await push(a, {remote: 'origin'})
      const total = (await fx.raw.list('packs/')).filter((o) => o.key.endsWith('.pack')).reduce((s, o) => s + o.size, 0)

      const b = newRepo(join(d, 'b'), fx)
      await pull(b, {remote: 'origin', metadataOnly: true})
      const root = b.readTree(b.readSnapshot(id).tree)
      const file = b.readTree(root.find((e) => e.name === 'pkg7')!.id)[0]
      const counting = new CountingTransport(await openTransport(fx.spec))
      const f = await LazyFetcher.open(b, 'origin', {transport: counting})
      expect((await f.readFile(file.id)).toString()).toBe(randomBytes(20_000, 'f7').toString('base64'))
      // One request for one block: far less than the packs, at least the file's compressed size.
      expect(counting.gets).toBe(1)
      expect(f.stats.bytes).toBe(counting.bytes)
      expect(f.stats.bytes).toBeLessThan(total / 10)
      const afterFirst = f.stats.bytes
      await f.readFile(file.id)
      expect(f.stats.bytes).toBe(afterFirst)
      // A later fetcher (a later mount) finds it local.
      const counting2 = new CountingTransport(await openTransport(fx.spec))
      const f2 = await LazyFetcher.open(b, 'origin', {transport: counting2})
      await f2.readFile(file.id)
      expect(counting2.gets).toBe(0)
      // A range of a chunked file brings only the chunks it overlaps.
      const big = root.find((e) => e.name === 'big.bin')!
      await f2.ensureFile(big.id, {range: {offset: 3 << 20, length: 1000}})
      expect(counting2.bytes).toBeLessThan(big.size / 2)
      expect(counting2.bytes).toBeGreaterThan(0)
      const all = await f2.readFile(big.id)
      expect(all.equals(randomBytes(4 << 20, 'lazy-big'))).toBe(true)
      // Concurrent reads coalesce into one round and one pack.
      const packsBefore = readdirSync(b.packsDir).length
      const others = root.filter((e) => e.kind === 'dir').slice(10, 20).map((e) => b.readTree(e.id)[0].id)
      await Promise.all(others.map((x) => f2.readFile(x)))
      expect(readdirSync(b.packsDir).length).toBe(packsBefore + 2)
    })

    it('names missing lazily fetched objects and local objects a push lacks', async () => {
      const fx = await fixture()
      const d = scratch()
      const a = newRepo(join(d, 'a'), fx)
      await snap(a, join(d, 'ta'), files('n'))
      await push(a, {remote: 'origin'})
      const b = newRepo(join(d, 'b'), fx)
      await pull(b, {remote: 'origin', metadataOnly: true})
      const f = await LazyFetcher.open(b, 'origin')
      const ghost = '1'.repeat(64) as Oid
      const e = await expectCode(f.ensureObjects([ghost]), 'ERR_VELO_NOT_FOUND')
      expect(e.message).toContain(ghost)
      // b has no contents: pushing it elsewhere is refused and names what is missing.
      const other = await make()
      onTestFinished(() => other.cleanup())
      addRemote(b, 'other', other.spec.url, {endpoint: other.spec.endpoint})
      const pe = await expectCode(push(b, {remote: 'other'}), 'ERR_VELO_NOT_FOUND')
      expect(pe.hint).toMatch(/metadata-only/)
    })
  })
}
