/**
 * Worker thread entry: claims files from the shared queue (ingestQueue.ts) and runs an Ingester
 * on each, writing the results back into the queue. New segments arrive on a dedicated port, read
 * synchronously (the claim loop blocks this thread's event loop while there is work to wait for).
 */
import {parentPort, receiveMessageOnPort, workerData, type MessagePort} from 'node:worker_threads'
import {CTL, SEGMENT_FILES, STATUS, Segment, type SegmentBuffers} from './ingestQueue.js'
import {Ingester, type IngestOptions} from './Ingester.js'

export interface WorkerData extends IngestOptions {
  /** Int32Array [CTL.size]. */
  control: SharedArrayBuffer
  /** Float64Array, one slot per worker: bytes hashed so far (progress). */
  progress: SharedArrayBuffer
  slot: number
  /** Segments in order; errors go back on it too. */
  port: MessagePort
}

export interface FileError {
  t: 'error'
  index: number
  code: string
  message: string
}

const data = workerData as WorkerData
const ingester = new Ingester(data)
const ctl = new Int32Array(data.control)
const hashed = new Float64Array(data.progress)
const port = data.port
const segments: Segment[] = []

function segmentOf(index: number): Segment {
  // Segments are posted in order, each before any of its files is published; a sealed segment
  // that ends at or before `index` means the next one is waiting on the port.
  let seg = segments[segments.length - 1]
  while (!seg || (seg.sealedCount > 0 && index >= seg.start + seg.sealedCount)) {
    const m = receiveMessageOnPort(port)
    if (!m) throw new Error(`ingest worker: no segment for file ${index}`)
    seg = new Segment(m.message as SegmentBuffers)
    segments.push(seg)
  }
  // Files are claimed in increasing order, but a slower sibling may hold an older index.
  for (let k = segments.length - 1; k >= 0; k--) if (segments[k].start <= index) return segments[k]
  throw new Error(`ingest worker: no segment for file ${index}`)
}

function ingest(index: number): void {
  const seg = segmentOf(index)
  const i = index - seg.start
  const r = ingester.ingestFile(seg.path(i), seg.sizes[i])
  if (r.error) {
    // Posted before `done` moves, so the walker finds it when it sees the count.
    const e: FileError = {t: 'error', index, code: r.error.code, message: r.error.message}
    port.postMessage(e)
    Atomics.store(seg.status, i, STATUS.error)
  } else {
    seg.ids.set(r.id!, i * 32)
    seg.sizes[i] = r.size
    hashed[data.slot] += r.size
    Atomics.store(seg.status, i, STATUS.ok)
  }
  Atomics.add(ctl, CTL.done, 1)
}

/** A claim takes consecutive files up to this many or this many bytes: neighbours share blocks. */
const RUN_FILES = 64
const RUN_BYTES = 1 << 20

/** Claims and ingests runs of files until the walker closes the queue (or aborts). */
function work(): void {
  for (;;) {
    if (Atomics.load(ctl, CTL.abort)) return
    const next = Atomics.load(ctl, CTL.next)
    const published = Atomics.load(ctl, CTL.published)
    if (next < published) {
      const seg = segmentOf(next)
      const segEnd = seg.start + (seg.sealedCount || SEGMENT_FILES)
      const limit = Math.min(published, segEnd, next + RUN_FILES)
      let end = next
      let bytes = 0
      while (end < limit && bytes < RUN_BYTES) bytes += seg.sizes[end++ - seg.start]
      if (Atomics.compareExchange(ctl, CTL.next, next, end) === next) for (let i = next; i < end; i++) ingest(i)
      continue
    }
    if (Atomics.load(ctl, CTL.closed)) return
    Atomics.wait(ctl, CTL.published, published, 100)
  }
}

parentPort!.on('message', (m: {t: 'work'} | {t: 'finish'} | {t: 'abort'}) => {
  if (m.t === 'work') {
    work()
  } else if (m.t === 'finish') {
    try {
      const packs = ingester.finish()
      parentPort!.postMessage({t: 'finished', packs, newObjects: ingester.newObjects, newBytes: ingester.newBytes})
    } catch (err) {
      const e = err as Error & {code?: string}
      parentPort!.postMessage({t: 'failed', code: e.code, message: e.message})
    }
  } else {
    ingester.abort()
    parentPort!.postMessage({t: 'aborted'})
  }
})
