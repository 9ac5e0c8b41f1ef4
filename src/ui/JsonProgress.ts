/**
 * Progress as NDJSON events on stdout (--json): `{"type":"progress",...}` at most once per
 * interval and `{"type":"warning","message":...}` as they come. The command writes the last line
 * itself: `{"type":"summary",...}` or `{"type":"error",...}` (docs/json.md).
 */
import type {ProgressMode, ProgressReporter, ProgressUpdate} from './ProgressEvent.js'
import {ProgressTracker} from './ProgressTracker.js'
import {writeJsonLine} from './jsonLines.js'

export interface JsonProgressOptions {
  command: string
  intervalMs: number
  /** Warnings only (--quiet). */
  quiet?: boolean
  write?: (value: unknown) => void
  now?: () => number
}

export class JsonProgress implements ProgressReporter {
  readonly mode: ProgressMode = 'json'
  private readonly tracker: ProgressTracker
  private readonly write: (value: unknown) => void
  private lastEvent: number

  constructor(private readonly o: JsonProgressOptions) {
    const now = o.now ?? Date.now
    this.tracker = new ProgressTracker(o.command, now)
    this.write = o.write ?? writeJsonLine
    this.lastEvent = now()
  }

  update(u: ProgressUpdate): void {
    if (this.o.quiet) return
    this.tracker.update(u)
    const now = (this.o.now ?? Date.now)()
    if (now - this.lastEvent < this.o.intervalMs) return
    this.lastEvent = now
    this.write(this.tracker.event())
  }

  warn(message: string): void {
    this.write({type: 'warning', message})
  }

  async ready(): Promise<void> {}

  async done(): Promise<void> {}
}
