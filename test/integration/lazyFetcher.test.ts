/**
 * The lazy-fetch API that mounts use (src/remote/LazyFetcher.ts), on a directory remote: metadata
 * first, contents on demand, bounded waits, nothing stored that failed verification.
 */
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it, onTestFinished} from 'vitest'
import {pull} from '../../src/api/pull.js'
import {push} from '../../src/api/push.js'
import {snapshot} from '../../src/api/snapshot.js'
import type {Oid} from '../../src/objects/oid.js'
import {LazyFetcher} from '../../src/remote/LazyFetcher.js'
import {addRemote} from '../../src/remote/RemoteConfig.js'
import {FileTransport} from '../../src/remote/file/FileTransport.js'
import type {ByteRange, GetResult, RequestOptions} from '../../src/remote/Transport.js'
import {Repository, initRepository} from '../../src/repo/Repository.js'
import {VeloError} from '../../src/util/errors.js'
import {CountingTransport} from '../helpers/transports.js'
import {makeTree, randomBytes} from '../helpers/trees.js'

/** A remote that never answers reads (it ignores abort signals, like a stuck server would). */
class SilentTransport extends FileTransport {
  override get(_key: string, _o?: RequestOptions & {range?: ByteRange}): Promise<GetResult | undefined> {
    return new Promise(() => undefined)
  }
}

async function setup(): Promise<{dir: string; remote: string; a: Repository; b: Repository; id: Oid}> {
  const dir = mkdtempSync(join(tmpdir(), 'velo-lazy-'))
  onTestFinished(() => rmSync(dir, {recursive: true, force: true}))
  const remote = join(dir, 'remote')
  const open = (name: string): Repository => {
    initRepository(join(dir, name))
    const r = Repository.open(join(dir, name))
    onTestFinished(() => r.close())
    addRemote(r, 'origin', remote)
    return r
  }
  const a = open('a')
  const spec: Record<string, string | Buffer> = {}
  for (let i = 0; i < 30; i++) spec[`m${i}/index.js`] = randomBytes(30_000, `lz${i}`).toString('hex')
  spec['big.bin'] = randomBytes(5 << 20, 'lz-big')
  makeTree(join(dir, 'tree'), spec)
  const id = (await snapshot(a, {dir: join(dir, 'tree'), ref: 'app', threads: 1})).id
  await push(a, {remote: 'origin'})
  const b = open('b')
  return {dir, remote, a, b, id}
}

describe('LazyFetcher', () => {
  it('checkout flow: metadata of a remote ref without touching local refs, then contents on first read', async () => {
    const {b, id, remote} = await setup()
    const r = await pull(b, {remote: 'origin', refs: ['app'], metadataOnly: true, noLocalRefs: true})
    expect(r.refs[0]).toMatchObject({ref: 'app', remote: id, status: 'untouched'})
    expect(b.refs.read('app')).toBeUndefined()
    expect(b.resolveSnapshot('origin/app')).toBe(id)
    const root = b.readTree(b.readSnapshot(id).tree)
    const entry = b.readTree(root.find((e) => e.name === 'm3')!.id)[0]
    const counting = new CountingTransport(new FileTransport(remote))
    const f = await LazyFetcher.open(b, 'origin', {transport: counting})
    // Objects already here cost nothing.
    await f.ensureObjects([id, root.find((e) => e.kind === 'dir')!.id])
    expect(counting.gets).toBe(0)
    expect((await f.readFile(entry.id)).toString()).toBe(randomBytes(30_000, 'lz3').toString('hex'))
    expect(counting.gets).toBe(1)
    expect(f.stats).toMatchObject({requests: 1, packs: 1})
    expect(f.stats.bytes).toBeLessThan(256 << 10) // one block (256 KiB before compression)
  })

  it('bounds every wait: a remote that never answers fails the read with a timeout, nothing stored', async () => {
    const {b, id, remote} = await setup()
    await pull(b, {remote: 'origin', metadataOnly: true})
    const before = readdirSync(b.packsDir).sort()
    const f = await LazyFetcher.open(b, 'origin', {transport: new SilentTransport(remote), deadlineMs: 300})
    const file = b.readTree(b.readTree(b.readSnapshot(id).tree).find((e) => e.name === 'm1')!.id)[0]
    const started = Date.now()
    const err = (await f.readFile(file.id).then(() => undefined, (e: unknown) => e)) as VeloError
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(err).toBeInstanceOf(VeloError)
    expect(err.code).toBe('ERR_VELO_REMOTE')
    expect(err.message).toMatch(new RegExp(`fetching object ${file.id} from origin timed out after 300 ms`))
    expect(readdirSync(b.packsDir).sort()).toEqual(before)
  })

  it('fetches only the chunks of a large file that a read range overlaps', async () => {
    const {b, id} = await setup()
    await pull(b, {remote: 'origin', metadataOnly: true})
    const big = b.readTree(b.readSnapshot(id).tree).find((e) => e.name === 'big.bin')!
    const f = await LazyFetcher.open(b, 'origin')
    await f.ensureFile(big.id, {range: {offset: 0, length: 10}})
    const first = f.stats.bytes
    expect(first).toBeGreaterThan(0)
    expect(first).toBeLessThan(big.size / 2)
    const chunks = b.packs.chunksOf(big.id)
    expect(chunks.length).toBeGreaterThan(2)
    expect(b.packs.read(chunks[0].id).data.length).toBe(chunks[0].size)
    const present = chunks.filter((c) => b.packs.locate(Buffer.from(c.id, 'hex')))
    expect(present.length).toBeLessThan(chunks.length / 2)
    expect((await f.readFile(big.id)).equals(randomBytes(5 << 20, 'lz-big'))).toBe(true)
  })

  it('finds packs pushed after its indexes were cached', async () => {
    const {a, b, dir} = await setup()
    await pull(b, {remote: 'origin', metadataOnly: true})
    const f = await LazyFetcher.open(b, 'origin')
    makeTree(join(dir, 'tree2'), {'new.txt': 'pushed later\n'})
    const id2 = (await snapshot(a, {dir: join(dir, 'tree2'), ref: 'later', threads: 1})).id
    await push(a, {remote: 'origin', refs: ['later']})
    const entry = a.readTree(a.readSnapshot(id2).tree)[0]
    expect((await f.readFile(entry.id)).toString()).toBe('pushed later\n')
  })
})
