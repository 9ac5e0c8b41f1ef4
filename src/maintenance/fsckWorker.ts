/** Worker thread entry for fsck: runs one task per message (fsckTasks.ts) and posts the result. */
import {parentPort} from 'node:worker_threads'
import {runFsckTask, type FsckTask} from './fsckTasks.js'

parentPort!.on('message', (t: FsckTask) => {
  try {
    const r = runFsckTask(t)
    const transfer = r.kind === 'pack' ? [r.pack.kept.bytes.buffer, r.pack.kept.positions.buffer, r.pack.kept.starts.buffer, r.pack.kept.lengths.buffer] : []
    parentPort!.postMessage({ok: true, result: r}, transfer as ArrayBuffer[])
  } catch (err) {
    const e = err as Error & {code?: string}
    parentPort!.postMessage({ok: false, message: e.message, code: e.code, stack: e.stack})
  }
})
