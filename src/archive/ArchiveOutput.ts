/**
 * The bytes of an archive gathered into large buffers and written to a stream: one write per
 * PIECE bytes instead of several per entry. The buffers are reused once the stream is done with
 * them (fresh memory costs a page fault per 4 KiB), and at most IN_FLIGHT of them are queued, which
 * is the backpressure: call ready() between entries.
 */
import type {Writable} from 'node:stream'

const PIECE = 1 << 20
const IN_FLIGHT = 4

export class ArchiveOutput {
  private free: Buffer[] = []
  private buf: Buffer
  private used = 0
  private inFlight = 0
  private failure: Error | undefined
  private wake: (() => void) | undefined
  /** Bytes written (handed to the stream) so far. */
  bytes = 0

  constructor(private readonly out: Writable) {
    this.buf = Buffer.allocUnsafeSlow(PIECE)
  }

  /** Appends bytes (copied: `data` may be reused as soon as this returns). */
  put(data: Uint8Array): void {
    let off = 0
    while (off < data.length) {
      const n = Math.min(data.length - off, PIECE - this.used)
      this.buf.set(n === data.length ? data : data.subarray(off, off + n), this.used)
      this.used += n
      off += n
      if (this.used === PIECE) this.flush()
    }
  }

  /** True when the caller should await ready() before adding more. */
  get full(): boolean {
    return this.inFlight >= IN_FLIGHT || this.failure !== undefined
  }

  /** Waits until the stream has taken enough of what was written; throws its error. */
  async ready(): Promise<void> {
    while (this.inFlight >= IN_FLIGHT && !this.failure) await new Promise<void>((resolve) => (this.wake = resolve))
    if (this.failure) throw this.failure
  }

  /** Writes what is buffered and waits until the stream has taken everything. */
  async end(): Promise<void> {
    if (this.used > 0) this.flush()
    while (this.inFlight > 0 && !this.failure) await new Promise<void>((resolve) => (this.wake = resolve))
    if (this.failure) throw this.failure
  }

  private flush(): void {
    const piece = this.used === PIECE ? this.buf : this.buf.subarray(0, this.used)
    const owned = this.buf
    this.bytes += piece.length
    this.inFlight++
    this.out.write(piece, (err) => {
      this.inFlight--
      if (err) this.failure ??= err
      else this.free.push(owned)
      const w = this.wake
      this.wake = undefined
      w?.()
    })
    this.buf = this.free.pop() ?? Buffer.allocUnsafeSlow(PIECE)
    this.used = 0
  }
}
