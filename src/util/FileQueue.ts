/**
 * A shared-memory queue of files between a walker (main thread) and worker threads (snapshot:
 * hash and pack). The walker appends files (path bytes and size) to segments of
 * SharedArrayBuffers and publishes them by bumping a
 * counter; workers claim runs of consecutive files with compare-and-swap and write each result
 * (id, size, status) into the same segment. Nothing is copied or allocated per file on either
 * side, no message is sent per batch, and a worker that finishes early takes the next run, so one
 * large file never leaves the other core idle.
 */
import {receiveMessageOnPort, type MessagePort} from 'node:worker_threads'

/** Slots of the control array (Int32Array over a SharedArrayBuffer). */
export const CTL = {
  /** Files published (indices below this may be claimed). */
  published: 0,
  /** Next file index to claim. */
  next: 1,
  /** Files finished (ok or error). */
  done: 2,
  /** 1 once the walker will publish nothing more until it resumes. */
  closed: 3,
  /** 1 when the work is abandoned: workers stop claiming. */
  abort: 4,
  size: 8,
} as const

/** Result status of a file. */
export const STATUS = {pending: 0, ok: 1, error: 2} as const

export const SEGMENT_FILES = 4096
const SEGMENT_PATH_BYTES = 1 << 20
/** A claim takes consecutive files up to this many or this many bytes: neighbours share blocks. */
const RUN_FILES = 64
const RUN_BYTES = 1 << 20

/** The buffers of one segment, as posted to workers. */
export interface SegmentBuffers {
  start: number
  paths: SharedArrayBuffer
  /** Int32 [SEGMENT_FILES + 1]: path i is paths[offs[i], offs[i + 1]). */
  offs: SharedArrayBuffer
  /** Float64 [SEGMENT_FILES]: expected size, then the size actually handled. */
  sizes: SharedArrayBuffer
  /** 32 bytes per file: the id found. */
  ids: SharedArrayBuffer
  /** Int32 [SEGMENT_FILES + 1]: STATUS per file, then the segment's final count once a next segment exists (0 before). */
  status: SharedArrayBuffer
}

/** Typed views of a segment. */
export class Segment {
  readonly start: number
  readonly paths: Buffer
  readonly offs: Int32Array
  readonly sizes: Float64Array
  readonly ids: Uint8Array
  readonly status: Int32Array
  /** Files appended (walker side only). */
  count = 0

  constructor(readonly b: SegmentBuffers) {
    this.start = b.start
    this.paths = Buffer.from(b.paths)
    this.offs = new Int32Array(b.offs)
    this.sizes = new Float64Array(b.sizes)
    this.ids = new Uint8Array(b.ids)
    this.status = new Int32Array(b.status)
  }

  static create(start: number): Segment {
    return new Segment({
      start,
      paths: new SharedArrayBuffer(SEGMENT_PATH_BYTES),
      offs: new SharedArrayBuffer((SEGMENT_FILES + 1) * 4),
      sizes: new SharedArrayBuffer(SEGMENT_FILES * 8),
      ids: new SharedArrayBuffer(SEGMENT_FILES * 32),
      status: new SharedArrayBuffer((SEGMENT_FILES + 1) * 4),
    })
  }

  /** Appends a file; false when the segment is full (start a new one). */
  append(path: string, size: number): boolean {
    if (this.count === SEGMENT_FILES) return false
    const at = this.offs[this.count]
    // A UTF-8 path takes at most 3 bytes per UTF-16 unit.
    if (at + path.length * 3 > this.paths.length) return false
    const n = this.paths.write(path, at, 'utf8')
    this.offs[this.count + 1] = at + n
    this.sizes[this.count] = size
    this.count++
    return true
  }

  /** Marks the segment full: later files go to the next one (call before posting that one). */
  seal(): void {
    Atomics.store(this.status, SEGMENT_FILES, this.count)
  }

  /** The final count, or 0 while files may still be appended. */
  get sealedCount(): number {
    return Atomics.load(this.status, SEGMENT_FILES)
  }

  path(i: number): string {
    return this.paths.toString('utf8', this.offs[i], this.offs[i + 1])
  }
}

/** The walker's side: appends and publishes files, posts new segments to the workers' ports. */
export class QueueWriter {
  readonly control = new SharedArrayBuffer(CTL.size * 4)
  readonly ctl = new Int32Array(this.control)
  readonly segments: Segment[] = []
  private readonly ports: MessagePort[] = []
  count = 0
  private published = 0
  private unpublishedBytes = 0
  private closed = false

  constructor(private readonly publishFiles = 32, private readonly publishBytes = 4 << 20) {}

  /** Appends a file; returns its index. Publish when `autoPublish` (workers are running). */
  add(path: string, size: number, autoPublish = true): number {
    let seg = this.segments[this.segments.length - 1]
    if (!seg || !seg.append(path, size)) {
      seg?.seal()
      seg = Segment.create(this.count)
      this.segments.push(seg)
      for (const p of this.ports) p.postMessage(seg.b)
      if (!seg.append(path, size)) throw new Error(`path too long for the file queue: ${path.slice(0, 100)}`)
    }
    this.unpublishedBytes += size
    const index = this.count++
    if (autoPublish && (this.count - this.published >= this.publishFiles || this.unpublishedBytes >= this.publishBytes)) this.publish()
    return index
  }

  /** A worker's port: it receives every segment, past and future. */
  connect(port: MessagePort): void {
    for (const seg of this.segments) port.postMessage(seg.b)
    this.ports.push(port)
  }

  /** Files below `index` need no worker (done on the calling thread). */
  skipTo(index: number): void {
    Atomics.store(this.ctl, CTL.next, index)
    Atomics.store(this.ctl, CTL.done, index)
  }

  publish(): void {
    if (this.published === this.count) return
    this.published = this.count
    this.unpublishedBytes = 0
    Atomics.store(this.ctl, CTL.published, this.count)
    Atomics.notify(this.ctl, CTL.published)
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Publishes the rest and tells the workers to return to their event loop once it is done. */
  close(): void {
    this.publish()
    this.closed = true
    Atomics.store(this.ctl, CTL.closed, 1)
    Atomics.notify(this.ctl, CTL.published)
  }

  /** Reopens after close(): the caller tells the workers to work again. */
  reopen(): void {
    this.closed = false
    Atomics.store(this.ctl, CTL.closed, 0)
  }

  abort(): void {
    Atomics.store(this.ctl, CTL.abort, 1)
    Atomics.notify(this.ctl, CTL.published)
  }

  get done(): number {
    return Atomics.load(this.ctl, CTL.done)
  }

  /** Waits (polling, so that the event loop runs) until every file has a result or `stop()` says so. */
  async waitDone(tick?: () => void, stop?: () => boolean): Promise<void> {
    while (this.done < this.count && !stop?.()) {
      await new Promise((r) => setTimeout(r, 5))
      tick?.()
    }
  }

  /** Messages the workers posted on their ports (errors; posted before `done` moves). */
  drainMessages<T>(): T[] {
    const out: T[] = []
    for (const p of this.ports) for (let m = receiveMessageOnPort(p); m; m = receiveMessageOnPort(p)) out.push(m.message as T)
    return out
  }

  segmentOf(index: number): Segment {
    for (let k = this.segments.length - 1; k >= 0; k--) if (this.segments[k].start <= index) return this.segments[k]
    throw new RangeError(`no file ${index} in the queue`)
  }

  closePorts(): void {
    for (const p of this.ports) p.close()
    this.ports.length = 0
  }
}

/** A worker's side: claims runs of published files and hands each to `handle`. */
export class QueueReader {
  private readonly ctl: Int32Array
  private readonly segments: Segment[] = []

  constructor(control: SharedArrayBuffer, private readonly port: MessagePort) {
    this.ctl = new Int32Array(control)
  }

  segmentOf(index: number): Segment {
    // Segments are posted in order, each before any of its files is published; a sealed segment
    // that ends at or before `index` means the next one is waiting on the port.
    let seg = this.segments[this.segments.length - 1]
    while (!seg || (seg.sealedCount > 0 && index >= seg.start + seg.sealedCount)) {
      const m = receiveMessageOnPort(this.port)
      if (!m) throw new Error(`file queue: no segment for file ${index}`)
      seg = new Segment(m.message as SegmentBuffers)
      this.segments.push(seg)
    }
    for (let k = this.segments.length - 1; k >= 0; k--) if (this.segments[k].start <= index) return this.segments[k]
    throw new Error(`file queue: no segment for file ${index}`)
  }

  /** Reports an error for file `index` (before finishing it, so the walker sees it with the count). */
  postError(message: unknown): void {
    this.port.postMessage(message)
  }

  /** Marks file `index` finished with `status`. */
  finish(seg: Segment, i: number, status: number): void {
    Atomics.store(seg.status, i, status)
    Atomics.add(this.ctl, CTL.done, 1)
  }

  /** Claims and handles runs of files until the walker closes the queue (or aborts). */
  run(handle: (seg: Segment, i: number, index: number) => void): void {
    const ctl = this.ctl
    for (;;) {
      if (Atomics.load(ctl, CTL.abort)) return
      const next = Atomics.load(ctl, CTL.next)
      const published = Atomics.load(ctl, CTL.published)
      if (next < published) {
        const seg = this.segmentOf(next)
        const limit = Math.min(published, seg.start + (seg.sealedCount || SEGMENT_FILES), next + RUN_FILES)
        let end = next
        let bytes = 0
        while (end < limit && bytes < RUN_BYTES) bytes += seg.sizes[end++ - seg.start]
        if (Atomics.compareExchange(ctl, CTL.next, next, end) !== next) continue
        for (let index = next; index < end; index++) {
          if (Atomics.load(ctl, CTL.abort)) return
          handle(seg, index - seg.start, index)
        }
        continue
      }
      if (Atomics.load(ctl, CTL.closed)) return
      Atomics.wait(ctl, CTL.published, published, 100)
    }
  }
}
