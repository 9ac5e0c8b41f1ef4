/**
 * Stores contents that are already in memory (the files of an archive being imported) the way a
 * snapshot stores files: hashed, deduplicated (one table shared by all workers) and compressed in
 * worker threads, while the main thread goes on parsing. Contents are copied once, back to back,
 * into shared buffers of BATCH_BYTES that every worker can read; a buffer is reused once its batch
 * is stored. Small imports never start a worker: they are stored on the main thread at drain().
 */
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import type {WrittenPack} from '../pack/PackWriter.js'
import {createDedupBuffers} from '../snapshot/DedupTable.js'
import {Ingester} from '../snapshot/Ingester.js'
import {abortWorkers, finishWorkers} from '../snapshot/ingestWorkers.js'
import {VeloError, type ErrorCode} from '../util/errors.js'
import type {ContentBatch, ContentBatchFailure, ContentBatchResult, ContentWorkerData} from './contentIngestWorker.js'

export type ContentCallback = (id: Buffer) => void

export interface ContentIngestOptions {
  packsDir: string
  tmpDir: string
  level: number
  threads?: number
  /** About how many contents will come (sizes the shared dedup table). */
  expectedContents?: number
}

const BATCH_FILES = 256
const BATCH_BYTES = 4 << 20
/** Below this much work the main thread stores everything itself (a worker costs 60-90 ms to start). */
const INLINE_FILES = 512
const INLINE_BYTES = 32 << 20

interface Batch {
  seq: number
  data: SharedArrayBuffer
  view: Buffer
  used: number
  sizes: number[]
  cbs: ContentCallback[]
}

function workerUrl(): URL {
  const u = new URL('./contentIngestWorker.js', import.meta.url)
  if (existsSync(fileURLToPath(u))) return u
  // Running from TypeScript sources (tests): use the compiled worker.
  return new URL(fileURLToPath(u).replace(/\/src\/archive\//, '/dist/archive/'), 'file://')
}

export class ContentIngestPool {
  private workers: Worker[] = []
  private readonly counter = new SharedArrayBuffer(4)
  private current: Batch | undefined
  /** Batches filled before the workers started (stored inline if they never do). */
  private held: Batch[] = []
  private readonly waiting = new Map<number, Batch>()
  private free: SharedArrayBuffer[] = []
  private seq = 0
  private files = 0
  private bytes = 0
  private maxInFlight = 3
  private failure: Error | undefined
  private wake: (() => void) | undefined
  newObjects = 0
  newBytes = 0

  constructor(private readonly o: ContentIngestOptions) {}

  /**
   * Adds a content given as pieces (copied before this returns). `cb` gets its 32-byte id once it
   * is stored; callbacks run on this thread, in no particular order.
   */
  add(parts: readonly Uint8Array[], size: number, cb: ContentCallback): void {
    let b = this.current
    if (b && b.used + size > b.data.byteLength) {
      this.dispatch()
      b = undefined
    }
    b ??= this.current = this.newBatch(size)
    let off = b.used
    // Buffer.copy, not TypedArray.set: into shared memory set() copies byte by byte (4x slower).
    for (const p of parts) off += (Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength)).copy(b.view, off)
    if (off - b.used !== size) throw new Error(`content pieces hold ${off - b.used} bytes, not ${size}`)
    b.used = off
    b.sizes.push(size)
    b.cbs.push(cb)
    this.files++
    this.bytes += size
    if (b.sizes.length >= BATCH_FILES || b.used >= BATCH_BYTES) this.dispatch()
  }

  /** True when the caller should await ready() before adding more (workers are behind). */
  get busy(): boolean {
    return this.waiting.size >= this.maxInFlight || this.failure !== undefined
  }

  async ready(): Promise<void> {
    while (this.waiting.size >= this.maxInFlight && !this.failure) await new Promise<void>((r) => (this.wake = r))
    if (this.failure) throw this.failure
  }

  /** Waits until every content added so far is stored and its callback has run. */
  async drain(): Promise<void> {
    if (this.current) this.dispatch()
    if (this.workers.length === 0) {
      this.storeHeldInline()
      return
    }
    while (this.waiting.size > 0 && !this.failure) await new Promise<void>((r) => (this.wake = r))
    if (this.failure) throw this.failure
  }

  /** Seals the packs (call after drain()); returns them. They are not committed. */
  async finish(): Promise<WrittenPack[]> {
    const packs: WrittenPack[] = []
    if (this.inline) {
      packs.push(...this.inline.finish())
      this.newObjects += this.inline.newObjects
    }
    // (new bytes are counted per batch here)
    const r = await finishWorkers(this.workers, () => this.failure)
    packs.push(...r.packs)
    this.newObjects += r.newObjects
    await this.close()
    return packs
  }

  /** Drops the packs being written; finished packs stay (valid, merely unreferenced). */
  async abort(): Promise<void> {
    this.inline?.abort()
    await abortWorkers(this.workers)
    await this.close()
  }

  private inline: Ingester | undefined

  private newBatch(size: number): Batch {
    const data = size <= BATCH_BYTES ? (this.free.pop() ?? new SharedArrayBuffer(BATCH_BYTES)) : new SharedArrayBuffer(size)
    return {seq: -1, data, view: Buffer.from(data), used: 0, sizes: [], cbs: []}
  }

  private dispatch(): void {
    const b = this.current
    this.current = undefined
    if (!b || b.sizes.length === 0) return
    b.seq = this.seq++
    if (this.workers.length === 0 && this.files < INLINE_FILES && this.bytes < INLINE_BYTES) {
      this.held.push(b)
      return
    }
    if (this.workers.length === 0) this.start()
    this.post(b)
  }

  private post(b: Batch): void {
    this.waiting.set(b.seq, b)
    const msg: ContentBatch = {t: 'batch', seq: b.seq, data: b.data, sizes: b.sizes}
    for (const w of this.workers) w.postMessage(msg)
  }

  private start(): void {
    const env = Number(process.env.VELO_THREADS)
    const n = Math.max(1, Math.min(this.o.threads ?? (env > 0 ? env : availableParallelism()), 8))
    this.maxInFlight = 2 * n + 1
    const slots = Math.min(Math.max(1 << 16, (this.o.expectedContents ?? 0) * 2, this.files * 4), 1 << 22)
    const data: ContentWorkerData = {packsDir: this.o.packsDir, tmpDir: this.o.tmpDir, level: this.o.level, dedup: createDedupBuffers(slots), counter: this.counter}
    for (let i = 0; i < n; i++) {
      const w = new Worker(workerUrl(), {workerData: data, resourceLimits: {maxYoungGenerationSizeMb: 16}})
      w.on('message', (m: ContentBatchResult | ContentBatchFailure) => this.onResult(m))
      w.on('error', (err) => this.fail(err))
      this.workers.push(w)
    }
    for (const b of this.held.splice(0)) this.post(b)
  }

  private onResult(m: ContentBatchResult | ContentBatchFailure): void {
    if (m.t === 'error') return this.fail(asError(m))
    const b = this.waiting.get(m.seq)
    if (!b) return
    this.waiting.delete(m.seq)
    this.newBytes += m.newBytes
    const ids = Buffer.from(m.ids.buffer, m.ids.byteOffset, m.ids.byteLength)
    try {
      for (let i = 0; i < b.cbs.length; i++) b.cbs[i](ids.subarray(i * 32, i * 32 + 32))
    } catch (err) {
      // A callback that stores more (a chunk list) and fails: the import fails, not the process.
      return this.fail(err as Error)
    }
    if (b.data.byteLength === BATCH_BYTES) this.free.push(b.data)
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private fail(err: Error): void {
    this.failure ??= err
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private storeHeldInline(): void {
    if (this.held.length === 0) return
    this.inline ??= new Ingester({packsDir: this.o.packsDir, tmpDir: this.o.tmpDir, level: this.o.level})
    for (const b of this.held.splice(0)) {
      let off = 0
      for (let i = 0; i < b.sizes.length; i++) {
        const r = this.inline.ingestContent(new Uint8Array(b.data, off, b.sizes[i]))
        off += b.sizes[i]
        this.newBytes += r.newBytes
        b.cbs[i](Buffer.from(r.id!.buffer, r.id!.byteOffset, 32))
      }
    }
  }

  private async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
    this.workers = []
  }
}

function asError(m: {code?: string; message?: string; hint?: string}): Error {
  return m.code?.startsWith('ERR_VELO_') ? new VeloError(m.code as ErrorCode, m.message ?? 'storing contents failed', {hint: m.hint}) : new Error(m.message ?? 'storing contents failed')
}
