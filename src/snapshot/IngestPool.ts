/**
 * Dispatches files to hash and pack. Files go into a shared-memory queue (util/FileQueue.ts) that
 * worker threads claim from while the walker is still listing; results land in the same memory,
 * read by file index after drain(). Workers start only once there is enough work to pay for them
 * (about 60-90 ms each); a handful of changed files are ingested on the calling thread.
 */
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {MessageChannel, Worker} from 'node:worker_threads'
import type {WrittenPack} from '../pack/PackWriter.js'
import {createDedupBuffers} from './DedupTable.js'
import {Ingester, type IngestOptions} from './Ingester.js'
import {QueueWriter, STATUS, type Segment} from '../util/FileQueue.js'
import type {FileError, WorkerData} from './ingestWorker.js'
import {abortWorkers, finishWorkers} from './ingestWorkers.js'

/** Below this much queued work the main thread ingests by itself. */
const INLINE_FILES = 512
const INLINE_BYTES = 32 << 20
/** Publish to the workers every so many files or bytes (and at drain). */
const PUBLISH_FILES = 32
const PUBLISH_BYTES = 4 << 20

function workerUrl(): URL {
  const u = new URL('./ingestWorker.js', import.meta.url)
  if (existsSync(fileURLToPath(u))) return u
  // Running from TypeScript sources (tests): use the compiled worker.
  return new URL(fileURLToPath(u).replace(/\/src\/snapshot\//, '/dist/snapshot/'), 'file://')
}

export class IngestPool {
  private workers: Worker[] = []
  private readonly queue = new QueueWriter(PUBLISH_FILES, PUBLISH_BYTES)
  private progressBuf: Float64Array | undefined
  private queuedBytes = 0
  /** Files below this index were ingested inline (before the workers started). */
  private inlineDone = 0
  private inlineBytes = 0
  private readonly errors = new Map<number, FileError>()
  private inline: Ingester | undefined
  private failure: Error | undefined
  newBytes = 0
  newObjects = 0

  constructor(private readonly o: IngestOptions & {threads?: number; expectedFiles?: number}) {}

  get started(): boolean {
    return this.workers.length > 0
  }

  /** Queues a file; returns its index for the result getters. */
  add(path: string, size: number): number {
    this.queuedBytes += size
    if (!this.started && this.queue.count + 1 >= INLINE_FILES) this.start()
    else if (!this.started && this.queuedBytes >= INLINE_BYTES) this.start()
    if (this.queue.isClosed) this.resume()
    return this.queue.add(path, size, this.started)
  }

  /** Files finished so far (for progress). */
  get hashedFiles(): number {
    return this.started ? this.queue.done : this.inlineDone
  }

  /** Bytes of finished files so far (for progress). */
  get hashedBytes(): number {
    let n = this.inlineBytes
    if (this.progressBuf) for (const b of this.progressBuf) n += b
    return n
  }

  private start(): void {
    const env = Number(process.env.VELO_THREADS)
    const n = Math.max(1, Math.min(this.o.threads ?? (env > 0 ? env : availableParallelism()), 8))
    const dedup = createDedupBuffers(Math.max(1 << 16, (this.o.expectedFiles ?? 0) * 4, 1 << 18))
    // Files ingested inline by an earlier drain stay done.
    this.queue.skipTo(this.inlineDone)
    const progress = new SharedArrayBuffer(n * 8)
    this.progressBuf = new Float64Array(progress)
    for (let i = 0; i < n; i++) {
      const {port1, port2} = new MessageChannel()
      const data: WorkerData = {packsDir: this.o.packsDir, tmpDir: this.o.tmpDir, level: this.o.level, dedup, dryRun: this.o.dryRun, control: this.queue.control, progress, slot: i, port: port2}
      const w = new Worker(workerUrl(), {workerData: data, transferList: [port2], resourceLimits: {maxYoungGenerationSizeMb: 4}})
      w.on('error', (err) => (this.failure ??= err))
      this.queue.connect(port1)
      w.postMessage({t: 'work'})
      this.workers.push(w)
    }
    this.queue.publish()
  }

  /** More files after a drain: the workers went back to waiting for messages. */
  private resume(): void {
    this.queue.reopen()
    for (const w of this.workers) w.postMessage({t: 'work'})
  }

  /** Waits until every file added so far has a result; `tick` is called while waiting (progress). */
  async drain(tick?: () => void): Promise<void> {
    if (!this.started) {
      if (this.inlineDone === this.queue.count) return
      this.inline ??= new Ingester({packsDir: this.o.packsDir, tmpDir: this.o.tmpDir, level: this.o.level, dryRun: this.o.dryRun, store: this.o.store})
      for (let index = this.inlineDone; index < this.queue.count; index++) {
        const seg = this.queue.segmentOf(index)
        const i = index - seg.start
        const r = this.inline.ingestFile(seg.path(i), seg.sizes[i])
        this.newBytes += r.newBytes
        if (r.error) {
          this.errors.set(index, {t: 'error', index, ...r.error})
          seg.status[i] = STATUS.error
        } else {
          seg.ids.set(r.id!, i * 32)
          seg.sizes[i] = r.size
          seg.status[i] = STATUS.ok
          this.inlineBytes += r.size
        }
        this.inlineDone = index + 1
      }
      return
    }
    this.queue.close()
    await this.queue.waitDone(tick, () => this.failure !== undefined)
    if (this.failure) throw this.failure
    for (const e of this.queue.drainMessages<FileError>()) this.errors.set(e.index, e)
  }

  private segmentOf(index: number): Segment {
    return this.queue.segmentOf(index)
  }

  /** The error of file `index` (after drain), if it failed. */
  error(index: number): {code: string; message: string} | undefined {
    return this.errors.get(index)
  }

  /** The buffer holding the 32-byte id of file `index` (after drain), at idOffset(index). */
  idBuffer(index: number): Uint8Array {
    return this.segmentOf(index).ids
  }

  idOffset(index: number): number {
    return (index - this.segmentOf(index).start) * 32
  }

  /** Size of file `index` as read (after drain). */
  size(index: number): number {
    const seg = this.segmentOf(index)
    return seg.sizes[index - seg.start]
  }

  path(index: number): string {
    const seg = this.segmentOf(index)
    return seg.path(index - seg.start)
  }

  /** Seals all packs. Call after drain(). */
  async finish(): Promise<WrittenPack[]> {
    const packs: WrittenPack[] = []
    if (this.inline) {
      packs.push(...this.inline.finish())
      this.newObjects += this.inline.newObjects
    }
    const r = await finishWorkers(this.workers, () => this.failure)
    packs.push(...r.packs)
    this.newObjects += r.newObjects
    this.newBytes += r.newBytes
    await this.close()
    return packs
  }

  async abort(): Promise<void> {
    this.inline?.abort()
    this.queue.abort()
    await abortWorkers(this.workers)
    await this.close()
  }

  private async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
    this.queue.closePorts()
    this.workers = []
  }
}

