/**
 * Keeps the latest update of a command and works out rate and ETA from a sliding window of
 * samples (the last few seconds of the current phase). Shared by every renderer.
 */
import type {ProgressEvent, ProgressUpdate} from './ProgressEvent.js'

const WINDOW_MS = 5000
const SAMPLE_MS = 250

interface Sample {
  t: number
  done: number
  bytes: number
}

export class ProgressTracker {
  readonly startedAt: number
  private last: ProgressUpdate | undefined
  private lastAt = 0
  /** Samples of the current phase, at least SAMPLE_MS apart, from the last WINDOW_MS. */
  private samples: Sample[] = []

  constructor(
    readonly command: string,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now()
  }

  get hasUpdate(): boolean {
    return this.last !== undefined
  }

  get phase(): string | undefined {
    return this.last?.phase
  }

  update(u: ProgressUpdate): void {
    const t = this.now()
    const s: Sample = {t, done: u.done ?? 0, bytes: u.bytes ?? 0}
    if (!this.last || this.last.phase !== u.phase) {
      this.samples = [s]
    } else {
      if (t - this.samples[this.samples.length - 1].t >= SAMPLE_MS) this.samples.push(s)
      while (this.samples.length > 1 && t - this.samples[0].t > WINDOW_MS) this.samples.shift()
    }
    this.last = u
    this.lastAt = t
  }

  /** The event for the latest update (undefined before the first one). */
  event(): ProgressEvent | undefined {
    const u = this.last
    if (!u) return undefined
    const done = u.done ?? 0
    const bytes = u.bytes ?? 0
    const from = this.samples[0]
    const dt = (this.lastAt - from.t) / 1000
    const rate = dt > 0.05 ? Math.max(0, (bytes - from.bytes) / dt) : 0
    const itemRate = dt > 0.05 ? Math.max(0, (done - from.done) / dt) : 0
    let eta: number | null = null
    if (u.totalBytes !== undefined && u.totalBytes > 0 && rate > 0) eta = Math.max(0, (u.totalBytes - bytes) / rate)
    else if (u.total !== undefined && u.total > 0 && itemRate > 0) eta = Math.max(0, (u.total - done) / itemRate)
    return {
      type: 'progress',
      command: this.command,
      phase: u.phase,
      unit: u.unit ?? 'items',
      done,
      total: u.total ?? null,
      bytes,
      totalBytes: u.totalBytes ?? null,
      rate: Math.round(rate),
      itemRate: Math.round(itemRate * 10) / 10,
      eta: eta === null ? null : Math.round(eta),
      elapsed: Math.round((this.now() - this.startedAt) / 100) / 10,
    }
  }

  elapsedSeconds(): number {
    return (this.now() - this.startedAt) / 1000
  }
}
