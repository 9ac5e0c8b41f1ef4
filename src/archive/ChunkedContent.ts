/**
 * A large content (over CHUNK_THRESHOLD) arriving in pieces, cut into the very chunks a snapshot of
 * the same file makes (same FastCDC windows as Ingester.ingestLarge) and hashed as a whole here;
 * each chunk goes to the pool to be hashed, deduplicated and stored. Once every chunk id is back,
 * the chunk list is written and the file's id reported.
 */
import {DEFAULT_CHUNK_PARAMS, findCut} from '../chunk/fastcdc.js'
import {encodeChunkList, type Chunk} from '../objects/chunkList.js'
import {createHasher, type StreamHasher} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import type {ContentIngestPool} from './ContentIngestPool.js'

const P = DEFAULT_CHUNK_PARAMS

export class ChunkedContent {
  private buf = Buffer.allocUnsafe(P.max * 4)
  private from = 0
  private to = 0
  private readonly whole: StreamHasher = createHasher()
  private readonly chunks: Chunk[] = []
  private pending = 0
  private ended = false
  private reported = false
  private size = 0

  /**
   * `store(id, list)` writes the chunk list of the file; `done` gets the file's id and size once
   * every chunk is stored.
   */
  constructor(
    private readonly pool: ContentIngestPool,
    private readonly store: (id: Oid, list: Uint8Array) => void,
    private readonly done: (id: Oid, size: number) => void,
  ) {}

  write(data: Buffer): void {
    let off = 0
    while (off < data.length) {
      if (this.to === this.buf.length) this.compact()
      const n = data.copy(this.buf, this.to, off, Math.min(data.length, off + this.buf.length - this.to))
      this.to += n
      off += n
      // A window of P.max bytes cuts the same whether or not more data follows.
      while (this.to - this.from >= P.max) this.cut(this.from + P.max)
    }
    this.size += data.length
  }

  /** The last piece has been written. */
  finish(): void {
    while (this.from < this.to) this.cut(this.to - this.from <= P.max ? this.to : this.from + P.max)
    this.ended = true
    this.maybeDone()
  }

  private compact(): void {
    this.buf.copy(this.buf, 0, this.from, this.to)
    this.to -= this.from
    this.from = 0
  }

  private cut(windowEnd: number): void {
    const len = findCut(this.buf, this.from, windowEnd, P)
    const chunk = this.buf.subarray(this.from, this.from + len)
    this.whole.update(chunk)
    const i = this.chunks.length
    this.chunks.push({id: '' as Oid, size: len})
    this.pending++
    this.pool.add([chunk], len, (id) => {
      this.chunks[i].id = id.toString('hex') as Oid
      this.pending--
      this.maybeDone()
    })
    this.from += len
  }

  private maybeDone(): void {
    if (!this.ended || this.pending > 0) return
    const id = this.whole.digest().toString('hex') as Oid
    this.store(id, encodeChunkList(this.chunks))
    this.done(id, this.size)
  }
}
