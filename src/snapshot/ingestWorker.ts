/**
 * Worker thread entry: runs an Ingester over batches of files sent by the snapshot walker.
 * Every batch is posted to every worker; a worker takes the next batch number from a shared
 * counter whenever it is free (work stealing), so one large file never leaves the other core idle.
 */
import {parentPort, workerData} from 'node:worker_threads'
import {Ingester, type IngestOptions} from './Ingester.js'

export interface BatchMessage {
  t: 'batch'
  seq: number
  paths: string[]
  sizes: number[]
}

export interface BatchResult {
  t: 'result'
  seq: number
  ids: Uint8Array
  sizes: number[]
  newBytes: number
  errors: {i: number; code: string; message: string}[]
}

export interface WorkerData extends IngestOptions {
  /** Int32Array[1]: the next batch number to take. */
  counter: SharedArrayBuffer
}

const data = workerData as WorkerData
const ingester = new Ingester(data)
const counter = new Int32Array(data.counter)
const received = new Map<number, BatchMessage>()
let claimed = -1

function run(m: BatchMessage): void {
  const ids = new Uint8Array(m.paths.length * 32)
  const sizes: number[] = new Array(m.paths.length)
  const errors: BatchResult['errors'] = []
  let newBytes = 0
  for (let i = 0; i < m.paths.length; i++) {
    const r = ingester.ingestFile(m.paths[i], m.sizes[i])
    sizes[i] = r.size
    newBytes += r.newBytes
    if (r.error) errors.push({i, ...r.error})
    else ids.set(r.id!, i * 32)
  }
  const out: BatchResult = {t: 'result', seq: m.seq, ids, sizes, newBytes, errors}
  parentPort!.postMessage(out, [ids.buffer])
}

function pump(): void {
  for (;;) {
    if (claimed < 0) claimed = Atomics.add(counter, 0, 1)
    const m = received.get(claimed)
    if (!m) return // not posted yet: wait for the next message
    for (const k of received.keys()) if (k <= claimed) received.delete(k)
    claimed = -1
    run(m)
  }
}

parentPort!.on('message', (m: BatchMessage | {t: 'finish'} | {t: 'abort'}) => {
  if (m.t === 'batch') {
    if (claimed < 0 || m.seq >= claimed) received.set(m.seq, m)
    pump()
  } else if (m.t === 'finish') {
    try {
      const packs = ingester.finish()
      parentPort!.postMessage({t: 'finished', packs, newObjects: ingester.newObjects})
    } catch (err) {
      const e = err as Error & {code?: string}
      parentPort!.postMessage({t: 'failed', code: e.code, message: e.message})
    }
  } else {
    ingester.abort()
    parentPort!.postMessage({t: 'aborted'})
  }
})
