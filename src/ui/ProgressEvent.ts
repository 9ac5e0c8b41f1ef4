/**
 * Progress of a long command, as its core function reports it and as the renderers show it.
 * Core modules report through an `onProgress` callback; a command turns those reports into
 * `ProgressUpdate`s for the reporter that BaseCommand.progress() chose (ink view, plain lines,
 * NDJSON events or nothing). Field names follow src/remote/progress.ts (done/total/bytes/totalBytes),
 * so a TransferProgress can be passed on unchanged.
 */

/** One report: where the work is, and how much of it is done. Omit what is not known. */
export interface ProgressUpdate {
  /** What is being done now: `scan`, `hash`, `write`, `upload`, ... */
  phase: string
  /** Items done in this phase, and the total when known. */
  done?: number
  total?: number
  /** Bytes done in this phase, and the total when known. */
  bytes?: number
  totalBytes?: number
  /** What the items are (`files`, `objects`, `packs`); default `items`. */
  unit?: string
}

/** An update with what the reporter worked out: the NDJSON `progress` event, one per line. */
export interface ProgressEvent {
  type: 'progress'
  command: string
  phase: string
  unit: string
  done: number
  total: number | null
  bytes: number
  totalBytes: number | null
  /** Bytes per second over the last few seconds of this phase (0 when no bytes are counted). */
  rate: number
  /** Items per second over the same window. */
  itemRate: number
  /** Seconds left in this phase, when a total is known and the rate is not zero. */
  eta: number | null
  /** Seconds since the command started. */
  elapsed: number
}

/** What every renderer implements. Cheap to call often: renderers throttle their output. */
export interface ProgressReporter {
  /** How this reporter shows progress. */
  readonly mode: ProgressMode
  update(u: ProgressUpdate): void
  /** A warning for the user (NDJSON `warning` event with --json, else a line on stderr). */
  warn(message: string): void
  /**
   * Called before the work starts. The ink view loads ink now when `eager` (work that blocks the
   * event loop for long, so the view could not appear later) or when $VELO_PROGRESS_DELAY_MS is 0;
   * otherwise it loads it once the work has run for that delay. Other reporters resolve at once.
   */
  ready(eager?: boolean): Promise<void>
  /** Stops drawing; `ok` false marks the view as failed. Safe to call twice. */
  done(ok?: boolean): Promise<void>
}

export type ProgressMode = 'ink' | 'plain' | 'json' | 'quiet'
