/**
 * Dispatches files to hash and pack. Files go into a shared-memory queue (ingestQueue.ts) that
 * worker threads claim from while the walker is still listing; results land in the same memory,
 * read by file index after drain(). Workers start only once there is enough work to pay for them
 * (about 60-90 ms each); a handful of changed files are ingested on the calling thread.
 */
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {MessageChannel, receiveMessageOnPort, Worker, type MessagePort} from 'node:worker_threads'
import type {WrittenPack} from '../pack/PackWriter.js'
import {createDedupBuffers} from './DedupTable.js'
import {Ingester, type IngestOptions} from './Ingester.js'
import {CTL, STATUS, Segment} from './ingestQueue.js'
import type {FileError, WorkerData} from './ingestWorker.js'

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

interface Finished {
  t: 'finished' | 'failed'
  packs: WrittenPack[]
  newObjects: number
  newBytes: number
  message?: string
}

export class IngestPool {
  private workers: Worker[] = []
  private ports: MessagePort[] = []
  private readonly control = new SharedArrayBuffer(CTL.size * 4)
  private readonly ctl = new Int32Array(this.control)
  private progressBuf: Float64Array | undefined
  private segments: Segment[] = []
  private count = 0
  private published = 0
  private unpublishedBytes = 0
  private queuedBytes = 0
  /** Files below this index were ingested inline (before the workers started). */
  private inlineDone = 0
  private inlineBytes = 0
  private closed = false
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
    let seg = this.segments[this.segments.length - 1]
    if (!seg || !seg.append(path, size)) {
      seg?.seal()
      seg = Segment.create(this.count)
      this.segments.push(seg)
      for (const p of this.ports) p.postMessage(seg.b)
      if (!seg.append(path, size)) throw new Error(`path too long for the ingest queue: ${path.slice(0, 100)}`)
    }
    const index = this.count++
    this.queuedBytes += size
    this.unpublishedBytes += size
    if (!this.started) {
      if (index + 1 < INLINE_FILES && this.queuedBytes < INLINE_BYTES) return index
      this.start()
    }
    if (this.closed) this.resume()
    if (this.count - this.published >= PUBLISH_FILES || this.unpublishedBytes >= PUBLISH_BYTES) this.publish()
    return index
  }

  /** Files finished so far (for progress). */
  get hashedFiles(): number {
    return this.started ? Atomics.load(this.ctl, CTL.done) : this.inlineDone
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
    Atomics.store(this.ctl, CTL.next, this.inlineDone)
    Atomics.store(this.ctl, CTL.done, this.inlineDone)
    const progress = new SharedArrayBuffer(n * 8)
    this.progressBuf = new Float64Array(progress)
    for (let i = 0; i < n; i++) {
      const {port1, port2} = new MessageChannel()
      const data: WorkerData = {packsDir: this.o.packsDir, tmpDir: this.o.tmpDir, level: this.o.level, dedup, dryRun: this.o.dryRun, control: this.control, progress, slot: i, port: port2}
      const w = new Worker(workerUrl(), {workerData: data, transferList: [port2], resourceLimits: {maxYoungGenerationSizeMb: 4}})
      w.on('error', (err) => (this.failure ??= err))
      for (const seg of this.segments) port1.postMessage(seg.b)
      w.postMessage({t: 'work'})
      this.workers.push(w)
      this.ports.push(port1)
    }
  }

  private publish(): void {
    if (this.published === this.count) return
    this.published = this.count
    this.unpublishedBytes = 0
    Atomics.store(this.ctl, CTL.published, this.count)
    Atomics.notify(this.ctl, CTL.published)
  }

  /** More files after a drain: the workers went back to waiting for messages. */
  private resume(): void {
    this.closed = false
    Atomics.store(this.ctl, CTL.closed, 0)
    for (const w of this.workers) w.postMessage({t: 'work'})
  }

  /** Waits until every file added so far has a result; `tick` is called while waiting (progress). */
  async drain(tick?: () => void): Promise<void> {
    if (!this.started) {
      if (this.inlineDone === this.count) return
      this.inline ??= new Ingester({packsDir: this.o.packsDir, tmpDir: this.o.tmpDir, level: this.o.level, dryRun: this.o.dryRun, store: this.o.store})
      for (let index = this.inlineDone; index < this.count; index++) {
        const seg = this.segmentOf(index)
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
    this.publish()
    this.closed = true
    Atomics.store(this.ctl, CTL.closed, 1)
    Atomics.notify(this.ctl, CTL.published)
    while (Atomics.load(this.ctl, CTL.done) < this.count && !this.failure) {
      await new Promise((r) => setTimeout(r, 5))
      tick?.()
    }
    if (this.failure) throw this.failure
    // Errors are posted before `done` moves: all of them are on the ports now.
    for (const p of this.ports) {
      for (let m = receiveMessageOnPort(p); m; m = receiveMessageOnPort(p)) {
        const e = m.message as FileError
        this.errors.set(e.index, e)
      }
    }
  }

  private segmentOf(index: number): Segment {
    for (let k = this.segments.length - 1; k >= 0; k--) if (this.segments[k].start <= index) return this.segments[k]
    throw new RangeError(`no file ${index} in the ingest queue`)
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
    const results = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<Finished>((resolve, reject) => {
            w.on('message', (m: Finished) => {
              if (m.t === 'finished') resolve(m)
              else if (m.t === 'failed') reject(new Error(m.message))
            })
            w.once('error', reject)
            w.once('exit', (code) => reject(this.failure ?? new Error(`an ingest worker exited (code ${code}) before finishing`)))
            w.postMessage({t: 'finish'})
          }),
      ),
    )
    for (const r of results) {
      packs.push(...r.packs)
      this.newObjects += r.newObjects
      this.newBytes += r.newBytes
    }
    await this.close()
    return packs
  }

  async abort(): Promise<void> {
    this.inline?.abort()
    Atomics.store(this.ctl, CTL.abort, 1)
    Atomics.notify(this.ctl, CTL.published)
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.on('message', (m: {t: string}) => m.t === 'aborted' && resolve())
            w.once('exit', () => resolve())
            w.postMessage({t: 'abort'})
          }),
      ),
    )
    await this.close()
  }

  private async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
    for (const p of this.ports) p.close()
    this.workers = []
    this.ports = []
  }
}

