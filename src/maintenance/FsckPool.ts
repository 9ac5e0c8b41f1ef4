/**
 * Runs fsck tasks on worker threads (one per core, at most `threads`), or on the calling thread
 * when there is too little work to pay for starting workers (about 50 ms each) or threads is 0.
 * Tasks are handed out in the order given, one at a time to whichever worker is free.
 */
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {VeloError, type ErrorCode} from '../util/errors.js'
import {runFsckTask, type FsckTask, type FsckTaskResult} from './fsckTasks.js'

function workerUrl(): URL {
  const u = new URL('./fsckWorker.js', import.meta.url)
  if (existsSync(fileURLToPath(u))) return u
  // Running from TypeScript sources (tests): use the compiled worker.
  return new URL(fileURLToPath(u).replace(/\/src\/maintenance\//, '/dist/maintenance/'), 'file://')
}

type Reply = {ok: true; result: FsckTaskResult} | {ok: false; message: string; code?: string; stack?: string}

export class FsckPool {
  private workers: Worker[] = []

  /** `threads` 0 runs every task on the calling thread. */
  constructor(readonly threads: number) {}

  static size(requested: number | undefined, workBytes: number): number {
    if (requested !== undefined) return Math.max(0, requested)
    if (workBytes < 16 << 20) return 0
    return Math.min(availableParallelism(), 4)
  }

  /**
   * Runs tasks produced by `next` until it returns undefined while no task is in flight (a result
   * may make more tasks: `next` is asked again after each), calling `done` with each result.
   */
  async run(next: () => FsckTask | undefined, done: (r: FsckTaskResult) => void): Promise<void> {
    if (this.threads === 0) {
      for (let t = next(); t; t = next()) done(runFsckTask(t))
      return
    }
    while (this.workers.length < this.threads) this.workers.push(new Worker(workerUrl()))
    let failure: Error | undefined
    let inFlight = 0
    let wake: (() => void)[] = []
    const settled = (): void => {
      const w = wake
      wake = []
      for (const f of w) f()
    }
    await Promise.all(
      this.workers.map(async (w) => {
        for (;;) {
          const t = failure ? undefined : next()
          if (!t) {
            if (inFlight === 0 || failure) return
            await new Promise<void>((r) => wake.push(r)) // a result in flight may bring more work
            continue
          }
          inFlight++
          try {
            done(await ask(w, t))
          } catch (err) {
            failure ??= err as Error
          } finally {
            inFlight--
            settled()
          }
        }
      }),
    )
    if (failure) throw failure
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
    this.workers = []
  }
}

function ask(w: Worker, t: FsckTask): Promise<FsckTaskResult> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      w.off('message', onMessage)
      w.off('error', onError)
      w.off('exit', onExit)
    }
    const onMessage = (m: Reply): void => {
      cleanup()
      if (m.ok) resolve(m.result)
      else if (m.code?.startsWith('ERR_VELO_')) reject(new VeloError(m.code as ErrorCode, m.message))
      else reject(Object.assign(new Error(m.message), {code: m.code, stack: m.stack}))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const onExit = (code: number): void => {
      cleanup()
      reject(new Error(`fsck worker exited with code ${code}`))
    }
    w.on('message', onMessage)
    w.on('error', onError)
    w.on('exit', onExit)
    w.postMessage(t)
  })
}
