/**
 * A mount server tells its launcher how a remote checkout's metadata pull is going: JSON lines
 * `{"progress": TransferProgress}` on the readiness channel (pipe or spare socket) before the
 * ready line, at most every 200 ms. The launcher renders them (ink, plain or NDJSON).
 */
import type {OnTransferProgress, TransferProgress} from '../remote/progress.js'

export interface ProgressLine {
  progress: TransferProgress
}

export function progressRelay(write: (line: string) => void, intervalMs = 200): OnTransferProgress {
  let last = 0
  let phase = ''
  return (p) => {
    const now = Date.now()
    // every phase change goes through: the launcher shows what is happening now
    if (p.phase === phase && now - last < intervalMs) return
    last = now
    phase = p.phase
    try {
      write(JSON.stringify({progress: p} satisfies ProgressLine) + '\n')
    } catch {
      // the launcher is gone: nobody to tell
    }
  }
}
