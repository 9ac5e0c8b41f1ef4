/**
 * The access trace of a mount: the paths of the files whose data was read or written, in the order
 * of their first access (prefetch lists for lazy remote mounts, and what `velo run` records).
 * Stored as `trace` in the mount's directory: one JSON string (a path relative to the mount root)
 * per line, appended in batches (at most a second late) and at unmount.
 */
import {appendFileSync, readFileSync} from 'node:fs'
import {isErrno} from '../util/errors.js'

export const TRACE_FILE = 'trace'

export class AccessTrace {
  private readonly seen = new Set<string>()
  private pending: string[] = []
  private timer: NodeJS.Timeout | undefined

  constructor(
    readonly file: string,
    private readonly flushMs = 1000,
  ) {}

  record(path: string): void {
    if (this.seen.has(path)) return
    this.seen.add(path)
    this.pending.push(path)
    if (!this.timer && this.flushMs > 0) {
      this.timer = setTimeout(() => this.flush(), this.flushMs)
      this.timer.unref()
    }
  }

  get size(): number {
    return this.seen.size
  }

  /** Appends what was recorded since the last flush. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.pending.length === 0) return
    const text = this.pending.map((p) => JSON.stringify(p)).join('\n') + '\n'
    this.pending = []
    appendFileSync(this.file, text, {mode: 0o644})
  }
}

/** The paths in a trace file, in order of first access ([] when there is none). */
export function readAccessTrace(file: string): string[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return []
    throw err
  }
  const out: string[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    try {
      out.push(JSON.parse(line) as string)
    } catch {
      // a line cut short by a crash: ignore it
    }
  }
  return out
}
