/**
 * On-demand fetching of file contents from a remote, for lazy checkouts (mounts).
 *
 * How a mount uses it:
 *   1. Make the snapshot's metadata local: `pull(repo, {remote, refs: [ref], metadataOnly: true,
 *      noLocalRefs: true})` from src/api/pull.ts (this also caches the remote's pack indexes),
 *      then `repo.resolveSnapshot(`${remote}/${ref}`)`.
 *   2. `const f = await LazyFetcher.open(repo, remote)` (no request: it reads the cached indexes).
 *   3. Before reading a file's bytes: `await f.ensureFile(entry.id, {range})`, then read through
 *      `repo.packs` as usual (chunksOf / read / readContent). Or `await f.readFile(entry.id)`.
 *   4. `f.close()` when unmounting.
 *
 * What it does: range-reads exactly the blocks that hold the wanted objects (adjacent blocks in
 * one request), verifies every object in them (BLAKE3), and stores them in the local repository
 * as a new pack, so the next read, and later mounts, are local. Calls made in the same tick are
 * batched into one round of requests and one pack. Objects already present cost nothing.
 *
 * Failures are VeloErrors naming the object: ERR_VELO_REMOTE (unreachable, timed out: every call
 * has a deadline, `deadlineMs`, default 30 s), ERR_VELO_CORRUPT (the remote copy is damaged;
 * nothing is stored), ERR_VELO_NOT_FOUND (no remote pack lists the object, even after re-reading
 * the remote's pack list once). A mount should answer EIO for that file and log the message.
 */
import {decodeChunkList} from '../objects/chunkList.js'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError} from '../util/errors.js'
import {fetchObjects} from './fetchObjects.js'
import {openTransport} from './openTransport.js'
import {getRemote} from './RemoteConfig.js'
import {RemoteIndex} from './RemoteIndex.js'
import {RemoteRepo} from './RemoteRepo.js'
import type {Transport} from './Transport.js'

export interface LazyFetcherOptions {
  /** Use this transport (tests); default: the remote's, with retries. */
  transport?: Transport
  /** Upper bound for one ensure call, retries included (ms). */
  deadlineMs?: number
  /** Blocks at most this many bytes apart are read in one request (default 32 KiB). */
  gap?: number
}

export interface LazyFetchStats {
  /** Bytes received from the remote. */
  bytes: number
  requests: number
  /** Objects stored locally (every object of every fetched block). */
  objects: number
  packs: number
}

interface Deferred {
  promise: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => undefined) // every caller awaits it; this keeps a shared rejection "handled"
  return {promise, resolve, reject}
}

export class LazyFetcher {
  readonly stats: LazyFetchStats = {bytes: 0, requests: 0, objects: 0, packs: 0}
  /** Objects asked for in this tick: fetched together on the next one. */
  private queue = new Map<string, {id: Buffer; d: Deferred}>()
  private scheduled = false
  /** Objects being fetched (queued or under way), so that a second caller waits for the first. */
  private readonly inflight = new Map<string, Promise<void>>()
  private refreshed = false
  private closed = false

  private constructor(
    readonly repo: Repository,
    readonly remoteName: string,
    private readonly transport: Transport,
    private index: RemoteIndex,
    private readonly o: LazyFetcherOptions,
  ) {}

  static async open(repo: Repository, remoteName: string, o: LazyFetcherOptions = {}): Promise<LazyFetcher> {
    const spec = getRemote(repo, remoteName)
    const transport = o.transport ?? (await openTransport(spec, {repoConfig: repo.config}))
    return new LazyFetcher(repo, remoteName, transport, RemoteIndex.loadCached(repo, remoteName), o)
  }

  /**
   * Makes these objects present locally (verified). Resolves when all are readable through
   * repo.packs; rejects with the first object's error (others of the same call may have arrived).
   */
  async ensureObjects(ids: readonly Oid[]): Promise<void> {
    if (this.closed) throw new Error('LazyFetcher: closed')
    const waits: Promise<void>[] = []
    for (const oid of ids) {
      const id = Buffer.from(oid, 'hex')
      if (this.repo.packs.locate(id)) continue
      const running = this.inflight.get(oid)
      if (running) {
        waits.push(running)
        continue
      }
      const d = deferred()
      this.inflight.set(oid, d.promise)
      this.queue.set(oid, {id, d})
      waits.push(d.promise)
    }
    if (this.queue.size > 0 && !this.scheduled) {
      this.scheduled = true
      setImmediate(() => {
        this.scheduled = false
        const batch = this.queue
        this.queue = new Map()
        void this.run(batch)
      })
    }
    await Promise.all(waits)
  }

  /**
   * Makes a file's content present: the blob, or the chunk list and the chunks overlapping
   * `range` (all chunks without a range).
   */
  async ensureFile(fileId: Oid, o: {range?: {offset: number; length: number}} = {}): Promise<void> {
    await this.ensureObjects([fileId])
    const loc = this.repo.packs.find(fileId)
    if (loc?.record.type !== ObjectType.chunkList) return
    const {chunks} = decodeChunkList(this.repo.packs.read(fileId).data, `chunk list ${fileId}`)
    const want: Oid[] = []
    let pos = 0
    for (const c of chunks) {
      const end = pos + c.size
      if (!o.range || (end > o.range.offset && pos < o.range.offset + o.range.length)) want.push(c.id)
      pos = end
    }
    await this.ensureObjects(want)
  }

  /** The whole verified content of a file, fetched first if needed. */
  async readFile(fileId: Oid): Promise<Buffer> {
    await this.ensureFile(fileId)
    return this.repo.packs.readContent(fileId)
  }

  /** Fetches one batch; settles every object's promise on its own (one bad block fails only its objects). */
  private async run(batch: Map<string, {id: Buffer; d: Deferred}>): Promise<void> {
    const settled = new Set<string>()
    const settle = (oid: string, err?: unknown): void => {
      const e = batch.get(oid)
      if (!e || settled.has(oid)) return
      settled.add(oid)
      if (this.inflight.get(oid) === e.d.promise) this.inflight.delete(oid)
      if (err === undefined) e.d.resolve()
      else e.d.reject(err)
    }
    const wrap = (oid: string, err: unknown): unknown =>
      err instanceof VeloError
        ? new VeloError(err.code, `fetching object ${oid} from ${this.remoteName}: ${err.message}`, {hint: err.hint, data: {...err.data, oid}, cause: err})
        : err
    const deadlineMs = this.o.deadlineMs ?? 30_000
    const deadline = AbortSignal.timeout(deadlineMs)
    // A transport that ignores the abort signal must not hang the caller either.
    const expired = new Promise<never>((_, reject) => deadline.addEventListener('abort', () => reject(deadline.reason), {once: true}))
    expired.catch(() => undefined)
    try {
      const ids = [...batch.values()].filter((e) => !this.repo.packs.locate(e.id)).map((e) => e.id)
      let r = await Promise.race([this.fetch(ids, deadline), expired])
      if (r.missing.length > 0 && !this.refreshed) {
        // Packs pushed after the indexes were cached: read the remote's pack list once more.
        this.refreshed = true
        this.index = await Promise.race([RemoteIndex.sync(this.repo, new RemoteRepo(this.transport, this.remoteName)), expired])
        const again = await Promise.race([this.fetch(r.missing, deadline), expired])
        r = {missing: again.missing, failed: [...r.failed, ...again.failed]}
      }
      for (const f of r.failed) {
        const oid = Buffer.from(f.id).toString('hex')
        settle(oid, wrap(oid, f.error))
      }
      for (const m of r.missing) {
        const oid = Buffer.from(m).toString('hex')
        settle(oid, new VeloError('ERR_VELO_NOT_FOUND', `object ${oid} is not on remote ${this.remoteName} (${this.transport.location})`, {
          hint: 'the remote is incomplete or was pruned; push the snapshot to it again',
          data: {oid, remote: this.remoteName},
        }))
      }
      for (const oid of batch.keys()) settle(oid)
    } catch (err) {
      for (const oid of batch.keys()) {
        if (deadline.aborted) {
          settle(oid, new VeloError('ERR_VELO_REMOTE', `fetching object ${oid} from ${this.remoteName} timed out after ${deadlineMs} ms`, {
            hint: 'check the network and the remote; the read can be tried again',
            data: {oid},
            cause: err,
          }))
        } else settle(oid, wrap(oid, err))
      }
    }
  }

  private async fetch(ids: Uint8Array[], signal: AbortSignal): Promise<{missing: Uint8Array[]; failed: {id: Uint8Array; error: unknown}[]}> {
    const r = await fetchObjects({
      transport: this.transport, index: this.index, ids, packsDir: this.repo.packsDir, tmpDir: this.repo.tmpDir,
      wholeFraction: Infinity, wholeMeta: false, gap: this.o.gap ?? 32 << 10, signal, failures: 'collect',
    })
    this.stats.bytes += r.bytes
    this.stats.requests += r.requests
    this.stats.packs += r.packs.length
    this.stats.objects += r.packs.reduce((a, p) => a + p.objects, 0)
    this.repo.commitPacks(r.packs)
    return r
  }

  close(): void {
    this.closed = true
  }
}
