import {describe, expect, it} from 'vitest'
import {fixtureJson} from '../../test/helpers/codec.js'
import {RandomStream, randomBytes} from '../../test/helpers/trees.js'
import {hash} from '../objects/hash.js'
import {CHUNK_THRESHOLD, DEFAULT_CHUNK_PARAMS, GEAR, findCut, type ChunkParams} from './fastcdc.js'

const P = DEFAULT_CHUNK_PARAMS

/** Cut offsets of a whole buffer, the simplest way: a window of `max` bytes from each start. */
function cutsOf(buf: Uint8Array, p: ChunkParams = P, from = 0): number[] {
  const out: number[] = []
  for (let start = from; start < buf.length; ) {
    start += findCut(buf, start, Math.min(buf.length, start + p.max), p)
    out.push(start)
  }
  return out
}

/**
 * Cut offsets as a streaming reader finds them: data arrives in reads of `readSize` into a buffer
 * of `bufSize` bytes that is compacted when less than `max` bytes are left (as the ingester does).
 */
function streamedCuts(data: Buffer, readSize: number, bufSize: number): number[] {
  const buf = Buffer.alloc(bufSize)
  const out: number[] = []
  let start = 0
  let end = 0
  let fileOffset = 0
  let consumed = 0
  for (;;) {
    const eof = fileOffset === data.length
    if (!eof && end - start < P.max) {
      buf.copy(buf, 0, start, end)
      end -= start
      start = 0
      while (fileOffset < data.length && end < buf.length) {
        const n = Math.min(readSize, buf.length - end, data.length - fileOffset)
        data.copy(buf, end, fileOffset, fileOffset + n)
        end += n
        fileOffset += n
      }
      continue
    }
    if (start === end) break
    const len = findCut(buf, start, Math.min(end, start + P.max), P)
    consumed += len
    out.push(consumed)
    start += len
  }
  return out
}

function chunkIds(buf: Buffer, cuts: number[]): string[] {
  let prev = 0
  return cuts.map((c) => {
    const id = hash(buf.subarray(prev, c)).toString('hex')
    prev = c
    return id
  })
}

/** Bytes of `after` that lie in chunks not present in `before` (what a snapshot would store). */
function newBytes(before: Buffer | Set<string>, after: Buffer): number {
  const known = before instanceof Set ? before : new Set(chunkIds(before, cutsOf(before)))
  const cuts = cutsOf(after)
  let prev = 0
  let n = 0
  for (const c of cuts) {
    if (!known.has(hash(after.subarray(prev, c)).toString('hex'))) n += c - prev
    prev = c
  }
  return n
}

describe('FastCDC', () => {
  const golden = fixtureJson<{inputBlake3: string; params: ChunkParams; gearBlake3: string; gearFirst: number[]; cuts: number[]}>('fastcdc/cuts.json')
  const data = randomBytes(8 << 20, 'fastcdc-golden')

  it('keeps its gear table, parameters and cut points (stored chunks stay deduplicable)', () => {
    expect(hash(data).toString('hex')).toBe(golden.inputBlake3)
    expect([...GEAR.subarray(0, 4)]).toEqual(golden.gearFirst)
    expect(hash(Buffer.from(GEAR.buffer, GEAR.byteOffset, GEAR.byteLength)).toString('hex')).toBe(golden.gearBlake3)
    expect(P).toEqual(golden.params)
    expect(cutsOf(data)).toEqual(golden.cuts)
  })

  it('keeps chunks between min and max, near the average on random data', () => {
    const cuts = cutsOf(data)
    let prev = 0
    cuts.forEach((c, i) => {
      const len = c - prev
      if (i < cuts.length - 1) expect(len).toBeGreaterThan(P.min)
      expect(len).toBeLessThanOrEqual(P.max)
      prev = c
    })
    const avg = data.length / cuts.length
    expect(avg).toBeGreaterThan(P.avg * 0.7)
    expect(avg).toBeLessThan(P.avg * 1.6)
    expect(CHUNK_THRESHOLD).toBeGreaterThanOrEqual(P.max)
  })

  it('handles short and tail inputs: a buffer up to min is one chunk, never more than max', () => {
    for (const n of [0, 1, P.min - 1, P.min, P.min + 1]) expect(findCut(data, 0, n)).toBe(n)
    expect(findCut(data, 100, 100 + P.min)).toBe(P.min)
    expect(findCut(Buffer.alloc(P.max * 2), 0, P.max * 2)).toBe(P.max) // no cut in constant data
  })

  it('cuts the same wherever the data sits in memory and however it is read', () => {
    const want = cutsOf(data)
    const shifted = Buffer.alloc(data.length + 12345)
    data.copy(shifted, 12345)
    expect(cutsOf(shifted, P, 12345).map((c) => c - 12345)).toEqual(want)
    for (const [readSize, bufSize] of [
      [1 << 20, P.max * 4],
      [4096, P.max * 2],
      [65536 + 7, P.max * 3 + 13],
      [data.length, data.length],
    ]) {
      expect(streamedCuts(data, readSize, bufSize), `reads of ${readSize} into ${bufSize}`).toEqual(want)
    }
  })

  it('finds the same chunks in content that starts at another offset of a file', () => {
    const prefix = randomBytes(100_000, 'prefix')
    const moved = Buffer.concat([prefix, data])
    const ids = chunkIds(data, cutsOf(data))
    const movedIds = new Set(chunkIds(moved, cutsOf(moved)))
    const shared = ids.filter((id) => movedIds.has(id)).length
    expect(shared / ids.length).toBeGreaterThan(0.9)
  })

  it('changes only nearby chunks when bytes are inserted, deleted or overwritten', () => {
    const mid = 4 << 20
    const inserted = Buffer.concat([data.subarray(0, mid), Buffer.from('inserted!'), data.subarray(mid)])
    expect(newBytes(data, inserted)).toBeLessThanOrEqual(3 * P.max)
    const deleted = Buffer.concat([data.subarray(0, mid), data.subarray(mid + 1000)])
    expect(newBytes(data, deleted)).toBeLessThanOrEqual(3 * P.max)
    const oneByte = Buffer.from(data)
    oneByte[mid] ^= 1
    expect(newBytes(data, oneByte)).toBeLessThanOrEqual(3 * P.max)
  })

  it('stores well under 2 MiB for a 1 MiB overwrite, at many offsets', () => {
    // Chunking is sequential, so cuts before the edit are unchanged: re-chunk from the last cut
    // before it until a cut falls on an old cut again (from there on the chunks are the old ones).
    const big = new RandomStream('fastcdc-overwrite').next(32 << 20)
    const oldCuts = cutsOf(big)
    const isOldCut = new Set(oldCuts)
    const costs: number[] = []
    const edited = Buffer.from(big)
    for (let k = 0; k < 20; k++) {
      const off = 1_000_003 + k * 1_477_777
      new RandomStream(`ow-${k}`).next(1 << 20).copy(edited, off)
      let start = oldCuts.filter((c) => c <= off).pop() ?? 0
      const from = start
      while (start < edited.length) {
        start += findCut(edited, start, Math.min(edited.length, start + P.max), P)
        if (start > off + (1 << 20) && isOldCut.has(start)) break
      }
      costs.push(start - from)
      big.copy(edited, off, off, off + (1 << 20)) // undo the edit: one buffer for all trials
    }
    for (const c of costs) expect(c, `new bytes per 1 MiB overwrite: ${costs.join(', ')}`).toBeLessThanOrEqual(1.85 * (1 << 20))
  })
})
