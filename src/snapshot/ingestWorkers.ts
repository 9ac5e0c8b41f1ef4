/**
 * The end of an ingest pool's workers (snapshot's IngestPool, tar import's ContentIngestPool):
 * each worker seals its packs on {t: 'finish'} and answers {t: 'finished'} or {t: 'failed'}, or
 * drops the pack it is writing on {t: 'abort'}. A worker that dies first fails the finish.
 */
import type {Worker} from 'node:worker_threads'
import type {WrittenPack} from '../pack/PackWriter.js'
import {VeloError, type ErrorCode} from '../util/errors.js'

export interface WorkersFinished {
  packs: WrittenPack[]
  newObjects: number
  /** Summed from workers that report it at the end (the snapshot's). */
  newBytes: number
}

interface FinishReply {
  t: string
  packs: WrittenPack[]
  newObjects: number
  newBytes?: number
  code?: string
  message?: string
}

function failed(m: FinishReply): Error {
  const message = m.message ?? 'storing contents failed'
  return m.code?.startsWith('ERR_VELO_') ? new VeloError(m.code as ErrorCode, message) : new Error(message)
}

/** Asks every worker to seal its packs and gathers them; `cause` names why a worker that exited early did. */
export async function finishWorkers(workers: Worker[], cause?: () => Error | undefined): Promise<WorkersFinished> {
  const replies = await Promise.all(
    workers.map(
      (w) =>
        new Promise<FinishReply>((resolve, reject) => {
          w.removeAllListeners('message')
          w.on('message', (m: FinishReply) => {
            if (m.t === 'finished') resolve(m)
            else if (m.t === 'failed') reject(failed(m))
          })
          w.once('error', reject)
          w.once('exit', (code) => reject(cause?.() ?? new Error(`an ingest worker exited (code ${code}) before finishing`)))
          w.postMessage({t: 'finish'})
        }),
    ),
  )
  const out: WorkersFinished = {packs: [], newObjects: 0, newBytes: 0}
  for (const r of replies) {
    out.packs.push(...r.packs)
    out.newObjects += r.newObjects
    out.newBytes += r.newBytes ?? 0
  }
  return out
}

/** Asks every worker to drop the pack it is writing (finished packs stay: valid, merely unreferenced). */
export async function abortWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          w.removeAllListeners('message')
          w.on('message', (m: {t: string}) => m.t === 'aborted' && resolve())
          w.once('exit', () => resolve())
          w.postMessage({t: 'abort'})
        }),
    ),
  )
}
