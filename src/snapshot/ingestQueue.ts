/**
 * The shared-memory queue between the snapshot walker (main thread) and the ingest workers.
 * The walker appends files (path bytes and expected size) to segments of SharedArrayBuffers and
 * publishes them by bumping a counter; workers claim files one at a time with compare-and-swap and
 * write each result (id, size, status) into the same segment. Nothing is copied or allocated per
 * file on either side, no message is sent per batch, and a worker that finishes early takes the
 * next file, so one large file never leaves the other core idle.
 */

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
  /** 1 when the snapshot is abandoned: workers stop claiming. */
  abort: 4,
  size: 8,
} as const

/** Result status of a file. */
export const STATUS = {pending: 0, ok: 1, error: 2} as const

export const SEGMENT_FILES = 4096
const SEGMENT_PATH_BYTES = 1 << 20

/** The buffers of one segment, as posted to workers. */
export interface SegmentBuffers {
  start: number
  paths: SharedArrayBuffer
  /** Int32 [count + 1]: path i is paths[offs[i], offs[i + 1]). */
  offs: SharedArrayBuffer
  /** Float64 [count]: expected size, then the size actually read. */
  sizes: SharedArrayBuffer
  /** 32 bytes per file. */
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
