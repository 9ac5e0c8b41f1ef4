/**
 * Progress as an ink view on a terminal (stderr, so that stdout keeps only the result). ink and
 * React cost about 300 ms to import, so they are loaded only when the command is still running
 * after `delayMs` (when the event loop next turns): a quick command never pays for them. Work that
 * blocks the event loop for long calls ready(true) first so that the view can draw during it.
 */
import type {ProgressMode, ProgressReporter, ProgressUpdate} from './ProgressEvent.js'
import {ProgressTracker} from './ProgressTracker.js'
import type {ProgressView} from './inkView.js'

export interface InkProgressOptions {
  command: string
  stream: NodeJS.WriteStream
  /** Load ink when the command runs longer than this (ms). */
  delayMs: number
  /** Redraw at most this often (ms). */
  intervalMs: number
}

export class InkProgress implements ProgressReporter {
  readonly mode: ProgressMode = 'ink'
  private readonly tracker: ProgressTracker
  private view: ProgressView | undefined
  private loading: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private lastDraw = 0
  private finished = false

  constructor(private readonly o: InkProgressOptions) {
    this.tracker = new ProgressTracker(o.command)
    this.timer = setTimeout(() => void this.load(), o.delayMs)
    this.timer.unref()
  }

  private load(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.loading ??= import('./inkView.js').then(
      ({mountProgressView}) => {
        if (this.finished) return
        this.view = mountProgressView(this.o.stream, this.o.command)
        const e = this.tracker.event()
        if (e) this.view.draw(e)
      },
      (err: unknown) => {
        // No view then; the command itself goes on.
        process.stderr.write(`velo: warning: cannot show progress: ${(err as Error).message}\n`)
      },
    )
    return this.loading
  }

  update(u: ProgressUpdate): void {
    this.tracker.update(u)
    if (!this.view) return
    const now = Date.now()
    if (now - this.lastDraw < this.o.intervalMs) return
    this.lastDraw = now
    this.view.draw(this.tracker.event()!)
  }

  warn(message: string): void {
    if (this.view) this.view.log(`velo: warning: ${message}`)
    else process.stderr.write(`velo: warning: ${message}\n`)
  }

  /** Loads ink now when `eager` (default: when the delay is 0), else lets the delay run. */
  ready(eager = this.o.delayMs === 0): Promise<void> {
    return this.finished || !eager ? Promise.resolve() : this.load()
  }

  async done(ok = true): Promise<void> {
    if (this.finished) return
    this.finished = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    // Still loading: the work ended first, so nothing is drawn (and nothing waits for ink).
    if (this.view) await this.view.finish(this.tracker.event(), ok, this.tracker.elapsedSeconds())
    this.view = undefined
  }
}
