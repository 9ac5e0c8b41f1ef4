/**
 * Worker thread entry: claims files from the shared file queue (util/FileQueue.ts) and runs an
 * Ingester on each, writing the results back into the queue.
 */
import {parentPort, workerData, type MessagePort} from 'node:worker_threads'
import {QueueReader, STATUS} from '../util/FileQueue.js'
import {Ingester, type IngestOptions} from './Ingester.js'

export interface WorkerData extends IngestOptions {
  /** The queue's control array. */
  control: SharedArrayBuffer
  /** Float64Array, one slot per worker: bytes hashed so far (progress). */
  progress: SharedArrayBuffer
  slot: number
  /** Segments arrive on it; errors go back on it. */
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
const hashed = new Float64Array(data.progress)
const queue = new QueueReader(data.control, data.port)

function work(): void {
  queue.run((seg, i, index) => {
    const r = ingester.ingestFile(seg.path(i), seg.sizes[i])
    if (r.error) {
      const e: FileError = {t: 'error', index, code: r.error.code, message: r.error.message}
      queue.postError(e)
      queue.finish(seg, i, STATUS.error)
    } else {
      seg.ids.set(r.id!, i * 32)
      seg.sizes[i] = r.size
      hashed[data.slot] += r.size
      queue.finish(seg, i, STATUS.ok)
    }
  })
}

parentPort!.on('message', (m: {t: 'work'} | {t: 'finish'} | {t: 'abort'}) => {
  if (m.t === 'work') work()
  else if (m.t === 'finish') {
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
