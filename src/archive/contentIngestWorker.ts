/**
 * Worker thread entry of ContentIngestPool: hashes, deduplicates, compresses and packs contents
 * that the main thread read from an archive. A batch is a shared buffer holding contents back to
 * back; it is posted to every worker and taken by whichever is free first (a shared counter), as
 * the snapshot workers do (src/snapshot/ingestWorker.ts).
 */
import {parentPort, workerData} from 'node:worker_threads'
import {Ingester, type IngestOptions} from '../snapshot/Ingester.js'

export interface ContentBatch {
  t: 'batch'
  seq: number
  data: SharedArrayBuffer
  sizes: number[]
}

export interface ContentBatchResult {
  t: 'result'
  seq: number
  /** 32 bytes per content. */
  ids: Uint8Array
  newBytes: number
}

/** A failure that ends the import (the pack could not be written: disk full, permissions). */
export interface ContentBatchFailure {
  t: 'error'
  seq: number
  code?: string
  message: string
  hint?: string
}

export interface ContentWorkerData extends IngestOptions {
  /** Int32Array[1]: the next batch number to take. */
  counter: SharedArrayBuffer
}

const data = workerData as ContentWorkerData
const ingester = new Ingester(data)
const counter = new Int32Array(data.counter)
const received = new Map<number, ContentBatch>()
let claimed = -1

function run(m: ContentBatch): void {
  const ids = new Uint8Array(m.sizes.length * 32)
  let newBytes = 0
  let off = 0
  try {
    for (let i = 0; i < m.sizes.length; i++) {
      const r = ingester.ingestContent(new Uint8Array(m.data, off, m.sizes[i]))
      off += m.sizes[i]
      newBytes += r.newBytes
      ids.set(r.id!, i * 32)
    }
  } catch (err) {
    const e = err as Error & {code?: string; hint?: string}
    const failure: ContentBatchFailure = {t: 'error', seq: m.seq, code: e.code, message: e.message, hint: e.hint}
    parentPort!.postMessage(failure)
    return
  }
  const out: ContentBatchResult = {t: 'result', seq: m.seq, ids, newBytes}
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

parentPort!.on('message', (m: ContentBatch | {t: 'finish'} | {t: 'abort'}) => {
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
