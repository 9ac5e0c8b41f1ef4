/**
 * Dispatches files to hash and pack. Starts worker threads only once there is enough work to pay
 * for them (about 60-90 ms each); a handful of changed files are ingested on the calling thread.
 */
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import type {WrittenPack} from '../pack/PackWriter.js'
import {createDedupBuffers, type DedupBuffers} from './DedupTable.js'
import {Ingester, type IngestOptions} from './Ingester.js'
import type {BatchMessage, BatchResult, WorkerData} from './ingestWorker.js'

export interface FileResult {
  id?: Uint8Array
  size: number
  error?: {code: string; message: string}
}

type Callback = (r: FileResult) => void

const BATCH_FILES = 256
const BATCH_BYTES = 8 << 20
/** Below this much queued work the main thread ingests by itself. */
const INLINE_FILES = 512
const INLINE_BYTES = 32 << 20

function workerUrl(): URL {
  const u = new URL('./ingestWorker.js', import.meta.url)
  if (existsSync(fileURLToPath(u))) return u
  // Running from TypeScript sources (tests): use the compiled worker.
  return new URL(fileURLToPath(u).replace(/\/src\/snapshot\//, '/dist/snapshot/'), 'file://')
}

export class IngestPool {
  private workers: Worker[] = []
  private counter = new SharedArrayBuffer(4)
  private pendingPaths: string[] = []
  private pendingSizes: number[] = []
  private pendingCbs: Callback[] = []
  private pendingBytes = 0
  private queuedFiles = 0
  private queuedBytes = 0
  private seq = 0
  private waiting = new Map<number, Callback[]>()
  private inline: Ingester | undefined
  private dedup: DedupBuffers | undefined
  private failure: Error | undefined
  private drainResolve: (() => void) | undefined
  newBytes = 0
  newObjects = 0

  constructor(private readonly o: IngestOptions & {threads?: number; expectedFiles?: number}) {}

  get started(): boolean {
    return this.workers.length > 0
  }

  add(path: string, size: number, cb: Callback): void {
    this.pendingPaths.push(path)
    this.pendingSizes.push(size)
    this.pendingCbs.push(cb)
    this.pendingBytes += size
    this.queuedFiles++
    this.queuedBytes += size
    if (!this.started && this.queuedFiles < INLINE_FILES && this.queuedBytes < INLINE_BYTES) return
    if (!this.started) this.start()
    if (this.pendingPaths.length >= BATCH_FILES || this.pendingBytes >= BATCH_BYTES) this.dispatch()
  }

  private start(): void {
    const env = Number(process.env.VELO_THREADS)
    const n = Math.max(1, Math.min(this.o.threads ?? (env > 0 ? env : availableParallelism()), 8))
    this.dedup = createDedupBuffers(Math.max(1 << 16, (this.o.expectedFiles ?? 0) * 4, 1 << 18))
    const data: WorkerData = {packsDir: this.o.packsDir, tmpDir: this.o.tmpDir, level: this.o.level, dedup: this.dedup, dryRun: this.o.dryRun, counter: this.counter}
    for (let i = 0; i < n; i++) {
      const w = new Worker(workerUrl(), {workerData: data, resourceLimits: {maxYoungGenerationSizeMb: 16}})
      w.on('message', (m: BatchResult) => this.onResult(m))
      w.on('error', (err) => this.fail(err))
      this.workers.push(w)
    }
  }

  private fail(err: Error): void {
    this.failure ??= err
    this.drainResolve?.()
  }

  private dispatch(): void {
    if (this.pendingPaths.length === 0) return
    const seq = this.seq++
    const msg: BatchMessage = {t: 'batch', seq, paths: this.pendingPaths, sizes: this.pendingSizes}
    this.waiting.set(seq, this.pendingCbs)
    for (const w of this.workers) w.postMessage(msg)
    this.pendingPaths = []
    this.pendingSizes = []
    this.pendingCbs = []
    this.pendingBytes = 0
  }

  private onResult(m: BatchResult): void {
    if (m.t !== 'result') return
    const cbs = this.waiting.get(m.seq)!
    this.waiting.delete(m.seq)
    this.newBytes += m.newBytes
    const errs = new Map(m.errors.map((e) => [e.i, e]))
    for (let i = 0; i < cbs.length; i++) {
      const e = errs.get(i)
      if (e) cbs[i]({size: m.sizes[i], error: {code: e.code, message: e.message}})
      else cbs[i]({id: m.ids.subarray(i * 32, i * 32 + 32), size: m.sizes[i]})
    }
    if (this.waiting.size === 0) this.drainResolve?.()
  }

  /** Waits until every file added so far has a result. */
  async drain(): Promise<void> {
    if (!this.started) {
      if (this.pendingPaths.length === 0) return
      this.inline ??= new Ingester({packsDir: this.o.packsDir, tmpDir: this.o.tmpDir, level: this.o.level, dryRun: this.o.dryRun})
      for (let i = 0; i < this.pendingPaths.length; i++) {
        const r = this.inline.ingestFile(this.pendingPaths[i], this.pendingSizes[i])
        this.newBytes += r.newBytes
        this.pendingCbs[i](r)
      }
      this.pendingPaths = []
      this.pendingSizes = []
      this.pendingCbs = []
      return
    }
    this.dispatch()
    while (this.waiting.size > 0 && !this.failure) {
      await new Promise<void>((r) => (this.drainResolve = r))
      this.drainResolve = undefined
    }
    if (this.failure) throw this.failure
  }

  /** Seals all packs. Call after drain(). */
  async finish(): Promise<WrittenPack[]> {
    const packs: WrittenPack[] = []
    if (this.inline) {
      packs.push(...this.inline.finish())
      this.newObjects += this.inline.newObjects
    }
    const results = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<{packs: WrittenPack[]; newObjects: number}>((resolve, reject) => {
            w.removeAllListeners('message')
            w.on('message', (m: {t: string; packs: WrittenPack[]; newObjects: number; message?: string}) => {
              if (m.t === 'finished') resolve(m)
              else if (m.t === 'failed') reject(new Error(m.message))
            })
            w.postMessage({t: 'finish'})
          }),
      ),
    )
    for (const r of results) {
      packs.push(...r.packs)
      this.newObjects += r.newObjects
    }
    await this.close()
    return packs
  }

  async abort(): Promise<void> {
    this.inline?.abort()
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.removeAllListeners('message')
            w.on('message', () => resolve())
            w.once('exit', () => resolve())
            w.postMessage({t: 'abort'})
          }),
      ),
    )
    await this.close()
  }

  private async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
    this.workers = []
  }
}
