/**
 * Worker thread entry of ContentReader: reads, decompresses and verifies file contents from the
 * packs, batch by batch, and sends each batch back as one transferred buffer (contents back to back).
 */
import {parentPort, workerData} from 'node:worker_threads'
import type {Oid} from '../objects/oid.js'
import {PackStore} from '../store/PackStore.js'
import {VeloError} from '../util/errors.js'
import {readWhole} from './readWhole.js'

export interface ReadBatch {
  t: 'read'
  seq: number
  ids: Oid[]
  sizes: number[]
}

export type BatchReply =
  | {t: 'data'; seq: number; buf: ArrayBuffer}
  | {t: 'error'; seq: number; code?: string; message: string; hint?: string}

const packs = new PackStore((workerData as {packsDir: string}).packsDir)

parentPort!.on('message', (m: ReadBatch) => {
  let total = 0
  for (const s of m.sizes) total += s
  const out = new Uint8Array(total)
  let off = 0
  try {
    for (let i = 0; i < m.ids.length; i++) {
      const data = readWhole(packs, m.ids[i], m.sizes[i])
      if (data.length !== m.sizes[i]) {
        throw new VeloError('ERR_VELO_CORRUPT', `file ${m.ids[i]} has ${data.length} bytes, its tree says ${m.sizes[i]}`, {hint: 'run velo fsck'})
      }
      out.set(data, off)
      off += data.length
    }
  } catch (err) {
    const e = err as VeloError
    const reply: BatchReply = {t: 'error', seq: m.seq, code: e instanceof VeloError ? e.code : undefined, message: e.message, hint: e instanceof VeloError ? e.hint : undefined}
    parentPort!.postMessage(reply)
    return
  }
  const reply: BatchReply = {t: 'data', seq: m.seq, buf: out.buffer}
  parentPort!.postMessage(reply, [out.buffer])
})
