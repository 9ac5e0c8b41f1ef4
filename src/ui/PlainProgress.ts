/**
 * Progress as plain lines on stderr, at most one per interval (1 s), for logs and pipes: nothing
 * for a command that ends within the first interval, and a last line at the end when any line
 * was written.
 */
import type {ProgressMode, ProgressReporter, ProgressUpdate} from './ProgressEvent.js'
import {ProgressTracker} from './ProgressTracker.js'
import {formatProgressLine, formatSeconds} from './formatProgress.js'

export interface PlainProgressOptions {
  command: string
  intervalMs: number
  write?: (line: string) => void
  now?: () => number
}

export class PlainProgress implements ProgressReporter {
  readonly mode: ProgressMode = 'plain'
  private readonly tracker: ProgressTracker
  private readonly write: (line: string) => void
  private lastLine: number
  private lines = 0
  private finished = false

  constructor(private readonly o: PlainProgressOptions) {
    const now = o.now ?? Date.now
    this.tracker = new ProgressTracker(o.command, now)
    this.write = o.write ?? ((l) => process.stderr.write(l + '\n'))
    this.lastLine = now()
  }

  update(u: ProgressUpdate): void {
    this.tracker.update(u)
    const now = (this.o.now ?? Date.now)()
    if (now - this.lastLine < this.o.intervalMs) return
    this.lastLine = now
    this.lines++
    this.write(`velo ${formatProgressLine(this.tracker.event()!)}`)
  }

  warn(message: string): void {
    this.write(`velo: warning: ${message}`)
  }

  async ready(): Promise<void> {}

  async done(ok = true): Promise<void> {
    if (this.finished) return
    this.finished = true
    if (this.lines === 0) return
    const took = formatSeconds(this.tracker.elapsedSeconds())
    const e = this.tracker.event()
    this.write(ok ? `velo ${e ? formatProgressLine(e) : this.o.command}, done in ${took}` : `velo ${this.o.command}: failed after ${took}`)
  }
}
