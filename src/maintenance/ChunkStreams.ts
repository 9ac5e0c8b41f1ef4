/**
 * Checks chunked files as a whole while fsck reads the pack that holds their chunks: each file
 * hashes its chunks as they go by in pack order. Parallel snapshot workers interleave blocks, so a
 * chunk may come before the one it follows: it waits in a pooled buffer (fresh memory costs a page
 * fault per 4 KiB). A file that cannot be completed this way (a chunk missing or damaged, or too
 * much waiting) is left to a second pass that reads its chunks in order (fsckTasks.ts).
 */
import {createHasher, type StreamHasher} from '../objects/hash.js'
import {BlockCache, type ChunkPlace} from './BlockCache.js'

export interface StreamedFile {
  id: string
  /** `place` is set for chunks of other packs (a few, shared with other files): they are read when their turn comes. */
  chunks: {id: string; size: number; place?: ChunkPlace}[]
}

export interface StreamVerdict {
  id: string
  /** True: its chunks put together hash to its id; false: they do not (`bad` says why); undefined: not completed here. */
  ok?: boolean
  bad?: string
}

interface State {
  file: StreamedFile
  next: number
  hasher: StreamHasher
  pending: Map<number, Buffer>
  failed: boolean
  bad?: string
}

export class ChunkStreams {
  private byChunk = new Map<string, {s: State; idx: number}[]>()
  private states: State[] = []
  private pendingBytes = 0
  private pool = new Map<number, Buffer[]>()

  private foreign: BlockCache | undefined

  constructor(files: StreamedFile[], private readonly maxPending = 128 << 20) {
    for (const file of files) {
      const s: State = {file, next: 0, hasher: createHasher(), pending: new Map(), failed: false}
      this.states.push(s)
      file.chunks.forEach((c, idx) => {
        if (c.place) return
        let refs = this.byChunk.get(c.id)
        if (!refs) this.byChunk.set(c.id, (refs = []))
        refs.push({s, idx})
      })
    }
    for (const s of this.states) this.advance(s)
  }

  close(): void {
    this.foreign?.close()
  }

  get empty(): boolean {
    return this.byChunk.size === 0
  }

  /** A verified blob, in pack order. */
  offer(id: Buffer, data: Buffer): void {
    const refs = this.byChunk.get(id.toString('hex'))
    if (!refs) return
    for (const {s, idx} of refs) {
      if (s.failed || s.bad || idx < s.next || s.pending.has(idx)) continue
      if (data.length !== s.file.chunks[idx].size) {
        s.bad = `chunk ${idx + 1} (${s.file.chunks[idx].id}) has ${data.length} bytes, the list says ${s.file.chunks[idx].size}`
        this.drop(s)
        continue
      }
      if (idx === s.next) {
        s.hasher.update(data)
        s.next++
        this.advance(s)
      } else if (this.pendingBytes + data.length > this.maxPending) {
        s.failed = true
        this.drop(s)
      } else {
        const b = this.take(data.length)
        data.copy(b)
        s.pending.set(idx, b)
      }
    }
  }

  verdicts(): StreamVerdict[] {
    return this.states.map((s) => {
      if (s.bad) return {id: s.file.id, ok: false, bad: s.bad}
      if (s.failed || s.next !== s.file.chunks.length) return {id: s.file.id}
      return s.hasher.digest().toString('hex') === s.file.id ? {id: s.file.id, ok: true} : {id: s.file.id, ok: false, bad: 'its chunks put together do not hash to its id'}
    })
  }

  /** Takes in what waited, and chunks of other packs, until the next chunk is still to come. */
  private advance(s: State): void {
    for (;;) {
      const b = s.pending.get(s.next)
      if (b) {
        s.hasher.update(b.subarray(0, s.file.chunks[s.next].size))
        s.pending.delete(s.next)
        this.release(b)
        s.next++
        continue
      }
      const c = s.file.chunks[s.next]
      if (!c?.place) return
      this.foreign ??= new BlockCache()
      try {
        const payload = this.foreign.read(c.place.packPath, c.place.blockOffset, c.place.blockLength)
        if (c.place.offset + c.place.length > payload.length || c.place.length !== c.size) throw new RangeError('bad place')
        s.hasher.update(payload.subarray(c.place.offset, c.place.offset + c.place.length))
        s.next++
      } catch {
        s.failed = true // the second pass names the damage
        this.drop(s)
        return
      }
    }
  }

  private drop(s: State): void {
    for (const b of s.pending.values()) this.release(b)
    s.pending.clear()
  }

  private take(n: number): Buffer {
    const cls = 2 ** Math.ceil(Math.log2(Math.max(n, 4096)))
    this.pendingBytes += cls
    return this.pool.get(cls)?.pop() ?? Buffer.allocUnsafeSlow(cls)
  }

  private release(b: Buffer): void {
    this.pendingBytes -= b.length
    let list = this.pool.get(b.length)
    if (!list) this.pool.set(b.length, (list = []))
    list.push(b)
  }
}
