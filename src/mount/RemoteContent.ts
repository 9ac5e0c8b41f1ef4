/**
 * The remote side of a lazy mount (a ContentFetcher for LowerContent): file content missing from
 * the repository is fetched on first read through LazyFetcher (range requests of the blocks that
 * hold it, verified by BLAKE3, stored in the repository, so later reads and mounts are local).
 * After mounting, the files that an earlier mount of the same snapshot read (its access trace) are
 * fetched in that order in the background, a few batches at a time, each batch waiting while
 * foreground reads are fetching.
 *
 * Every wait is bounded (the `remote.timeout` setting, default 30 s): a failed fetch rejects, the
 * read answers EIO, and fuseOps logs the reason in the mount log. Progress is kept in
 * `<mount dir>/fetch.json` (FetchStatus), rewritten at most every 200 ms and at unmount.
 */
import {readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import type {Oid} from '../objects/oid.js'
import type {TreeEntry} from '../objects/tree.js'
import {ObjectType} from '../pack/block.js'
import {LazyFetcher, type LazyFetchStats} from '../remote/LazyFetcher.js'
import type {Transport} from '../remote/Transport.js'
import type {Repository} from '../repo/Repository.js'
import {remoteTimeoutMs} from '../repo/settings.js'
import {VeloError} from '../util/errors.js'
import {atomicWrite} from '../util/fsx.js'
import {readAccessTrace} from './AccessTrace.js'
import type {ContentFetcher} from './LowerContent.js'
import type {LowerTree} from './LowerTree.js'
import {mountsDir, type MountRecord} from './registry.js'

export const FETCH_STATUS_FILE = 'fetch.json'

export interface FetchStatus extends LazyFetchStats {
  remote: string
  /** Reads (and copy-ups) that needed content from the remote, and those that failed. */
  fetches: number
  failures: number
  prefetch: {
    /** The mount whose access trace is replayed, or null when there is none. */
    from: string | null
    files: number
    done: number
    failed: number
    finished: boolean
  }
  updated: string
}

export interface RemoteContentOptions {
  remote: string
  /** The mount's directory (fetch.json goes there). */
  dir: string
  log?: (msg: string) => void
  /** Per fetch (retries included); default: the remote.timeout setting. */
  deadlineMs?: number
  /** Use this transport (tests). */
  transport?: Transport
  /** Files per prefetch batch, and batches in flight. */
  batch?: number
  concurrency?: number
}

/** Prefetch stops after this many failed batches in a row (the remote is likely gone). */
const MAX_PREFETCH_FAILURES = 3

export class RemoteContent implements ContentFetcher {
  private lazy: Promise<LazyFetcher> | undefined
  /** Stats of fetchers dropped after a failure. */
  private readonly retired: LazyFetchStats = {bytes: 0, requests: 0, objects: 0, packs: 0}
  private current: LazyFetcher | undefined
  private foreground = 0
  private idle: (() => void)[] = []
  private closed = false
  private statusTimer: NodeJS.Timeout | undefined
  private prefetching: Promise<void> | undefined
  readonly status: FetchStatus
  readonly deadlineMs: number

  constructor(
    readonly repo: Repository,
    private readonly o: RemoteContentOptions,
  ) {
    this.deadlineMs = o.deadlineMs ?? remoteTimeoutMs(repo.config as unknown as Record<string, unknown>)
    this.status = {
      remote: o.remote, bytes: 0, requests: 0, objects: 0, packs: 0, fetches: 0, failures: 0,
      prefetch: {from: null, files: 0, done: 0, failed: 0, finished: false}, updated: new Date().toISOString(),
    }
  }

  has(id: Oid): boolean {
    return this.repo.packs.find(id) !== undefined
  }

  /** Whether all of a file's content is in the repository (then nothing is fetched, nothing opened). */
  private isLocal(id: Oid): boolean {
    const loc = this.repo.packs.find(id)
    if (!loc) return false
    if (loc.record.type !== ObjectType.chunkList) return true
    return this.repo.packs.chunksOf(id).every((c) => this.repo.packs.find(c.id) !== undefined)
  }

  /** Opens the fetcher on first use (a mount whose content is all local never touches the remote). */
  private fetcher(): Promise<LazyFetcher> {
    this.lazy ??= LazyFetcher.open(this.repo, this.o.remote, {transport: this.o.transport, deadlineMs: this.deadlineMs}).then(
      (f) => (this.current = f),
      (err: unknown) => {
        this.lazy = undefined
        throw err
      },
    )
    return this.lazy
  }

  /**
   * After a failure, the next fetch starts from a fresh fetcher: it reloads the cached remote
   * indexes and may list the remote's packs again (LazyFetcher refreshes only once).
   */
  private retire(f: LazyFetcher): void {
    if (this.current !== f) return
    this.addStats(this.retired, f.stats)
    f.close()
    this.current = undefined
    this.lazy = undefined
  }

  private addStats(into: LazyFetchStats, s: LazyFetchStats): void {
    into.bytes += s.bytes
    into.requests += s.requests
    into.objects += s.objects
    into.packs += s.packs
  }

  private async fetchFile(id: Oid, range: {offset: number; length: number} | undefined): Promise<void> {
    const f = await this.fetcher()
    try {
      await f.ensureFile(id, {range})
    } catch (err) {
      if (err instanceof VeloError && err.code === 'ERR_VELO_NOT_FOUND') this.retire(f)
      throw err
    } finally {
      this.touch()
    }
  }

  /** A foreground read's fetch (prefetch waits while any is running). */
  async ensure(id: Oid, range?: {offset: number; length: number}): Promise<void> {
    if (this.isLocal(id)) return
    if (this.closed) throw new VeloError('ERR_VELO_REMOTE', `the mount is stopping: object ${id} was not fetched`)
    this.foreground++
    this.status.fetches++
    try {
      await this.fetchFile(id, range)
    } catch (err) {
      this.status.failures++
      throw err
    } finally {
      if (--this.foreground === 0) for (const wake of this.idle.splice(0)) wake()
    }
  }

  private whenIdle(): Promise<void> {
    return this.foreground === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve))
  }

  /** Counters, now. */
  snapshotStatus(): FetchStatus {
    const s = this.status
    const live = this.current?.stats ?? {bytes: 0, requests: 0, objects: 0, packs: 0}
    for (const k of ['bytes', 'requests', 'objects', 'packs'] as const) s[k] = this.retired[k] + live[k]
    s.updated = new Date().toISOString()
    return s
  }

  private touch(): void {
    if (this.statusTimer || this.closed) return
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined
      this.writeStatus()
    }, 200)
    this.statusTimer.unref()
  }

  private writeStatus(): void {
    try {
      atomicWrite(join(this.o.dir, FETCH_STATUS_FILE), JSON.stringify(this.snapshotStatus(), null, 2) + '\n', {sync: false})
    } catch (err) {
      this.o.log?.(`could not write ${FETCH_STATUS_FILE}: ${(err as Error).message}`)
    }
  }

  /**
   * Starts fetching, in the background, the files of the latest earlier mount of `snapshot`
   * that recorded an access trace (in the order it read them). Returns at once.
   */
  startPrefetch(snapshot: Oid, lower: LowerTree, selfId: string): void {
    this.writeStatus()
    this.prefetching = this.prefetch(snapshot, lower, selfId).catch((err: unknown) => {
      this.o.log?.(`prefetch stopped: ${(err as Error).message}`)
    })
  }

  private async prefetch(snapshot: Oid, lower: LowerTree, selfId: string): Promise<void> {
    const earlier = await findTrace(this.repo.root, snapshot, selfId)
    const p = this.status.prefetch
    if (!earlier) {
      p.finished = true
      this.writeStatus()
      return
    }
    const files: TreeEntry[] = []
    const seen = new Set<Oid>()
    for (const path of earlier.paths) {
      const e = lookup(lower, path)
      if (e && (e.kind === 'file' || e.kind === 'exec') && !seen.has(e.id)) {
        seen.add(e.id)
        files.push(e)
      }
    }
    p.from = earlier.id
    p.files = files.length
    this.o.log?.(`prefetching ${files.length} files from ${this.o.remote}, in the order mount ${earlier.id} read them`)
    const started = performance.now()
    const size = this.o.batch ?? 16
    let next = 0
    let failedInRow = 0
    const worker = async (): Promise<void> => {
      while (next < files.length && !this.closed && failedInRow < MAX_PREFETCH_FAILURES) {
        await this.whenIdle()
        if (this.closed) return
        const batch: TreeEntry[] = []
        while (next < files.length && batch.length < size) {
          const e = files[next++]
          if (this.isLocal(e.id)) p.done++
          else batch.push(e)
        }
        if (batch.length === 0) continue
        // One call per file in the same tick: LazyFetcher fetches them as one batch of requests.
        const results = await Promise.allSettled(batch.map((e) => this.fetchFile(e.id, undefined)))
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        p.done += batch.length - failed.length
        p.failed += failed.length
        if (failed.length > 0) {
          failedInRow++
          this.o.log?.(`prefetch: ${failed.length} of ${batch.length} files failed: ${(failed[0].reason as Error).message}`)
        } else failedInRow = 0
        this.touch()
      }
    }
    await Promise.all(Array.from({length: this.o.concurrency ?? 2}, worker))
    p.finished = true
    this.writeStatus()
    if (failedInRow >= MAX_PREFETCH_FAILURES) this.o.log?.(`prefetch gave up after ${MAX_PREFETCH_FAILURES} failed batches in a row`)
    this.o.log?.(`prefetch ${this.closed ? 'interrupted' : 'done'}: ${p.done} of ${p.files} files present, ${p.failed} failed, ${Math.round(performance.now() - started)} ms`)
  }

  /** Stops prefetching, writes the final status and logs a summary. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const wake of this.idle.splice(0)) wake()
    if (this.statusTimer) clearTimeout(this.statusTimer)
    this.statusTimer = undefined
    await this.prefetching
    const s = this.snapshotStatus()
    this.writeStatus()
    this.current?.close()
    this.o.log?.(`fetched from ${s.remote}: ${s.bytes} bytes in ${s.requests} requests (${s.objects} objects) for ${s.fetches} reads, ${s.failures} failed; prefetch ${s.prefetch.done}/${s.prefetch.files}`)
  }
}

/** The lower entry at `path` ('a/b/c'), or undefined (also when a tree cannot be read). */
function lookup(lower: LowerTree, path: string): TreeEntry | undefined {
  const cut = path.lastIndexOf('/')
  try {
    const dir = lower.dirAt(cut < 0 ? '' : path.slice(0, cut))
    return dir === undefined ? undefined : lower.entry(dir, path.slice(cut + 1))
  } catch {
    return undefined
  }
}

/**
 * The newest earlier mount of `snapshot` with a non-empty access trace. Mount ids start with
 * their UTC time (registry.newMountId), so the newest come first in reverse name order.
 */
export async function findTrace(repoRoot: string, snapshot: Oid, selfId: string): Promise<{id: string; paths: string[]} | undefined> {
  let names: string[]
  try {
    names = await readdir(mountsDir(repoRoot))
  } catch {
    return undefined
  }
  names.sort().reverse()
  for (const id of names) {
    if (id === selfId || id === 'active') continue
    let rec: MountRecord
    try {
      rec = JSON.parse(await readFile(join(mountsDir(repoRoot), id, 'mount.json'), 'utf8')) as MountRecord
    } catch {
      continue
    }
    if (rec.snapshot !== snapshot) continue
    const paths = readAccessTrace(rec.trace)
    if (paths.length > 0) return {id, paths}
  }
  return undefined
}
