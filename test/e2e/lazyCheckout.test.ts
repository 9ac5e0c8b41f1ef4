/**
 * Lazy checkout of a remote snapshot (`velo checkout REMOTE/REF MNT`), end to end with real FUSE
 * mounts served by the background process the CLI starts, on a directory remote and on the real
 * Ceph RGW (VELO_TEST_S3=1): metadata first, file content on first read (bytes counted in the
 * mount's fetch.json), local afterwards, prefetch from an earlier mount's access trace, EIO (and a
 * log line, and a responsive mount) when the remote is gone or does not answer.
 * The test reads the mounts with async fs calls only.
 */
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {readFile, readdir, stat} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'
import {addRemote} from '../../src/remote/RemoteConfig.js'
import {Repository, initRepository} from '../../src/repo/Repository.js'
import {cleanupMounts, fuseTestsEnabled, waitFor} from '../helpers/mounts.js'
import {s3Enabled, testBucket, type TestBucket} from '../helpers/remotes.js'
import {makeTree, randomBytes, writeRandomFile} from '../helpers/trees.js'
import {lastLine, veloOk} from '../helpers/velo.js'

interface MountRec {
  id: string
  snapshot: string
  remote?: string
  log: string
}

interface FetchStatus {
  remote: string
  bytes: number
  requests: number
  fetches: number
  failures: number
  prefetch: {from: string | null; files: number; done: number; failed: number; finished: boolean}
}

const PKG_FILES = 40
const text = (i: number): string => randomBytes(12_000, `lazy-pkg-${i}`).toString('base64')

interface Fixture {
  root: string
  src: string
  /** The repository that pushed. */
  a: string
  id: string
  env: Record<string, string>
  /** A new repository with `origin` configured (nothing fetched), and a mount point for it. */
  fresh(): {repo: string; mnt: string}
}

/** The URL of the remote `origin` and its S3 endpoint, if any. */
interface RemoteArg {
  url: string
  endpoint?: string
}

/**
 * One snapshot pushed to a remote, shared by the tests of a describe (CLI calls are the slow
 * part); each test works in fresh repositories. `remote(root)`: where `origin` is.
 */
function sharedFixture(remote: (root: string) => RemoteArg, env: Record<string, string> = {}): () => Fixture {
  let f: Fixture | undefined
  beforeAll(() => {
    f = fixture(remote, env)
  }, 120_000)
  afterAll(() => {
    if (!f) return
    cleanupMounts(f.root)
    rmSync(f.root, {recursive: true, force: true})
  })
  return () => f!
}

function fixture(remote: (root: string) => RemoteArg, env: Record<string, string>): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'velo-lazy-'))
  chmodSync(root, 0o755)
  const src = join(root, 'src')
  const spec: Record<string, string> = {'a/b/c/deep.txt': 'deep\n'}
  for (let i = 0; i < PKG_FILES; i++) spec[`pkg/f${i}.js`] = text(i)
  makeTree(src, spec)
  writeRandomFile(join(src, 'big.bin'), 4 << 20, 'lazy-big')
  const a = join(root, 'a')
  const e = {env}
  const id = lastLine(veloOk(['snapshot', src, '--repo', a, '--ref', 'app'], e).stdout)
  const {url, endpoint} = remote(root)
  veloOk(['remote', 'add', 'origin', url, ...(endpoint ? ['--endpoint', endpoint] : []), '--repo', a], e)
  veloOk(['push', 'origin', 'app', '--repo', a, '-q'], e)
  let n = 0
  return {
    root, src, a, id, env,
    fresh() {
      // In-process (the CLI's start-up is the slow part of these tests; velo remote add is tested elsewhere).
      const repo = join(root, `r${++n}`)
      initRepository(repo)
      const r = Repository.open(repo)
      addRemote(r, 'origin', url, endpoint ? {endpoint} : {})
      r.close()
      return {repo, mnt: join(root, `mnt${n}`)}
    },
  }
}

function checkout(f: Fixture, repo: string, rev: string, mnt: string, env: Record<string, string> = {}): MountRec {
  return checkoutEvents(f, repo, rev, mnt, env).summary
}

/** A checkout with --json: its NDJSON events (progress of a remote's metadata pull), then the summary. */
function checkoutEvents(f: Fixture, repo: string, rev: string, mnt: string, env: Record<string, string> = {}): {events: {type: string; command?: string; phase?: string}[]; summary: MountRec} {
  mkdirSync(mnt, {recursive: true})
  const out = veloOk(['checkout', rev, mnt, '--repo', repo, '--json'], {env: {...f.env, ...env}}).stdout
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as {type: string})
  return {events: lines.slice(0, -1), summary: JSON.parse(lastLine(out)) as MountRec}
}

function status(rec: MountRec): FetchStatus | undefined {
  try {
    return JSON.parse(readFileSync(join(dirname(rec.log), 'fetch.json'), 'utf8')) as FetchStatus
  } catch {
    return undefined
  }
}

/** The status once `ok` holds for it (it is written at most 200 ms after a fetch). */
async function settled(rec: MountRec, ok: (s: FetchStatus) => boolean, what: string): Promise<FetchStatus> {
  await waitFor(() => {
    const s = status(rec)
    return s !== undefined && ok(s)
  }, 10_000, `fetch.json: ${what}`)
  return status(rec)!
}

function packBytes(repo: string): number {
  const dir = join(repo, 'packs')
  return readdirSync(dir).filter((n) => n.startsWith('d-') && n.endsWith('.pack')).reduce((s, n) => s + statSync(join(dir, n)).size, 0)
}

function lazyScenario(make: () => Fixture, o: {prefetch: boolean}): void {
  it('mounts REMOTE/REF with metadata only, fetches one file on first read, and only that much', async () => {
    const f = make()
    const {repo: b, mnt} = f.fresh()
    // Progress of the metadata pull reaches the launcher: NDJSON events before the summary.
    const {events, summary: rec} = checkoutEvents(f, b, 'origin/app', mnt, {VELO_PROGRESS_INTERVAL_MS: '0'})
    expect(rec).toMatchObject({snapshot: f.id, remote: 'origin'})
    expect(events.length).toBeGreaterThan(0)
    for (const e of events) expect(e).toMatchObject({type: 'progress', command: 'checkout'})
    expect(events.map((e) => e.phase)).toContain('download')
    // Metadata only: no data pack yet, and the tracking ref is there, the local ref is not.
    expect(readdirSync(join(b, 'packs')).filter((n) => n.startsWith('d-'))).toEqual([])
    expect(existsSync(join(b, 'refs/remotes/origin/app'))).toBe(true)
    expect(existsSync(join(b, 'refs/app'))).toBe(false)
    expect((await readdir(join(mnt, 'pkg'))).length).toBe(PKG_FILES)
    expect((await stat(join(mnt, 'big.bin'))).size).toBe(4 << 20)

    expect(await readFile(join(mnt, 'pkg/f7.js'), 'utf8')).toBe(text(7))
    const s1 = await settled(rec, (s) => s.fetches >= 1, 'one fetch')
    expect(s1.failures).toBe(0)
    expect(s1.bytes).toBeGreaterThan(0)
    const snapshotBytes = packBytes(f.a)
    // One small file costs a block or two, far less than the snapshot (about 4.4 MiB packed).
    expect(s1.bytes).toBeLessThan(snapshotBytes / 4)
    expect(packBytes(b)).toBeGreaterThan(0) // stored locally

    // The whole large file, read through the mount, arrives intact.
    expect((await readFile(join(mnt, 'big.bin'))).equals(readFileSync(join(f.src, 'big.bin')))).toBe(true)
    const s2 = await settled(rec, (s) => s.bytes > 4 << 20, 'the large file fetched')
    expect(s2.failures).toBe(0)
    veloOk(['unmount', mnt, '--repo', b])

    // A later mount reads what was fetched from the repository: no request at all.
    const again = checkout(f, b, 'origin/app', mnt)
    expect(await readFile(join(mnt, 'pkg/f7.js'), 'utf8')).toBe(text(7))
    expect((await readFile(join(mnt, 'big.bin'))).length).toBe(4 << 20)
    await waitFor(() => status(again)?.prefetch.finished === true, 10_000, 'prefetch to finish')
    const s3 = status(again)!
    expect(s3).toMatchObject({requests: 0, bytes: 0, fetches: 0, failures: 0})
    // Its prefetch replayed the first mount's trace, all of it local already.
    expect(s3.prefetch).toMatchObject({from: rec.id, files: 2, done: 2, failed: 0})
    veloOk(['unmount', mnt, '--repo', b])
  }, 120_000)

  // Prefetch is transport-independent: one suite covers it.
  if (!o.prefetch) return
  it('prefetches the files an earlier mount of the snapshot read, in the background', async () => {
    const f = make()
    const {repo: b, mnt} = f.fresh()
    const first = checkout(f, b, 'origin/app', mnt)
    const read = [3, 30, 17, 9]
    for (const i of read) expect(await readFile(join(mnt, `pkg/f${i}.js`), 'utf8')).toBe(text(i))
    veloOk(['unmount', mnt, '--repo', b])
    // A copy of b's metadata but none of its content: the trace is what drives the prefetch.
    const {repo: c} = f.fresh()
    veloOk(['pull', 'origin', 'app', '--metadata-only', '--repo', c, '-q'], {env: f.env})
    mkdirSync(join(c, 'mounts', first.id), {recursive: true})
    writeFileSync(join(c, 'mounts', first.id, 'mount.json'), JSON.stringify({...first, trace: join(c, 'mounts', first.id, 'trace')}))
    writeFileSync(join(c, 'mounts', first.id, 'trace'), readFileSync(join(b, 'mounts', first.id, 'trace')))
    // A local ref (from the metadata-only pull) mounts lazily too: its tracking remote serves it.
    const rec = checkout(f, c, 'app', mnt)
    expect(rec.remote).toBe('origin')
    await waitFor(() => status(rec)?.prefetch.finished === true, 20_000, 'prefetch to finish')
    const s = status(rec)!
    expect(s.prefetch).toMatchObject({from: first.id, files: read.length, done: read.length, failed: 0})
    expect(s.requests).toBeGreaterThan(0)
    for (const i of read) expect(await readFile(join(mnt, `pkg/f${i}.js`), 'utf8')).toBe(text(i))
    await new Promise((r) => setTimeout(r, 400))
    expect(status(rec)).toMatchObject({fetches: 0, requests: s.requests, bytes: s.bytes})
    expect(readFileSync(rec.log, 'utf8')).toMatch(/prefetch done: 4 of 4 files present/)
    veloOk(['unmount', mnt, '--repo', c])
  }, 120_000)
}

describe.skipIf(!fuseTestsEnabled())('lazy checkout: directory remote', () => {
  const make = sharedFixture((root) => ({url: join(root, 'remote')}))
  lazyScenario(make, {prefetch: true})

  it('a removed remote gives EIO on an unfetched file, a log line, and a mount that keeps answering', async () => {
    const f = make()
    const remote = join(f.root, 'remote')
    const {repo: b, mnt} = f.fresh()
    const rec = checkout(f, b, 'origin/app', mnt)
    expect(await readFile(join(mnt, 'a/b/c/deep.txt'), 'utf8')).toBe('deep\n')
    renameSync(remote, `${remote}.gone`)
    onTestFinished(() => {
      if (existsSync(`${remote}.gone`)) renameSync(`${remote}.gone`, remote)
    })
    const err = await readFile(join(mnt, 'big.bin')).then(() => undefined, (e: NodeJS.ErrnoException) => e)
    expect(err?.code).toBe('EIO')
    expect((await readdir(join(mnt, 'pkg'))).length).toBe(PKG_FILES)
    expect(await readFile(join(mnt, 'a/b/c/deep.txt'), 'utf8')).toBe('deep\n')
    await waitFor(() => /read \/big\.bin: fetching object [0-9a-f]{64} from origin: /.test(readFileSync(rec.log, 'utf8')), 5000, 'the log line')
    await settled(rec, (s) => s.failures > 0, 'a failure counted')
    // Back again: the same mount fetches it.
    renameSync(`${remote}.gone`, remote)
    expect((await readFile(join(mnt, 'big.bin'))).equals(readFileSync(join(f.src, 'big.bin')))).toBe(true)
    veloOk(['unmount', mnt, '--repo', b])
  }, 120_000)
})

describe.skipIf(!fuseTestsEnabled() || !s3Enabled)('lazy checkout: S3 (Ceph RGW)', () => {
  let bucket: TestBucket
  beforeAll(async () => {
    bucket = await testBucket('lazy')
  })
  afterAll(async () => {
    await bucket?.destroy()
  })
  let url = ''
  const make = sharedFixture(() => ({url: (url ||= bucket.remote().spec.url), endpoint: bucket.settings.endpoint}))
  // Prefetch is transport-independent: the directory remote's suite covers it.
  lazyScenario(make, {prefetch: false})

  it('a remote that does not answer gives EIO within remote.timeout, and the mount keeps answering', async () => {
    const f = make()
    const {repo: b, mnt} = f.fresh()
    veloOk(['pull', 'origin', 'app', '--metadata-only', '--repo', b, '-q'])
    // Point origin at a port where nothing listens: every request fails until the deadline.
    const cfg = JSON.parse(readFileSync(join(b, 'remotes.json'), 'utf8')) as {remotes: Record<string, {endpoint?: string}>}
    cfg.remotes.origin.endpoint = 'http://127.0.0.1:9'
    writeFileSync(join(b, 'remotes.json'), JSON.stringify(cfg))
    const rec = checkout(f, b, 'app', mnt, {VELO_REMOTE_TIMEOUT: '2s'})
    const pending = readFile(join(mnt, 'pkg/f1.js')).then(() => undefined, (e: NodeJS.ErrnoException) => e)
    // While that read waits, the mount answers.
    expect((await readdir(join(mnt, 'pkg'))).length).toBe(PKG_FILES)
    const err = await pending
    // It failed, it did not hang (the test's timeout is far above remote.timeout and the retries).
    expect(err?.code).toBe('EIO')
    await waitFor(() => /read \/pkg\/f1\.js: fetching object [0-9a-f]{64} from origin/.test(readFileSync(rec.log, 'utf8')), 5000, 'the log line')
    veloOk(['unmount', mnt, '--repo', b])
  }, 120_000)
})
