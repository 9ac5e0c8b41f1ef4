/** Worker thread entry: runs an Ingester over batches of files sent by the snapshot walker. */
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

const ingester = new Ingester(workerData as IngestOptions)

parentPort!.on('message', (m: BatchMessage | {t: 'finish'} | {t: 'abort'}) => {
  if (m.t === 'batch') {
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
