/**
 * Brings objects from a remote into a packs directory, verified on arrival. Per remote pack it
 * either downloads the whole pack (when most of it is wanted, or always for metadata packs) and
 * installs it under its own name, or range-reads exactly the blocks that hold the wanted objects
 * (adjacent blocks merged into one request) and writes them, byte for byte, into a new local pack.
 * A pack file is written before its index, so nothing is visible before it is complete.
 */
import {closeSync, constants, existsSync, fsyncSync, openSync, renameSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import {PackWriter, type WrittenPack} from '../pack/PackWriter.js'
import {durable, mkdirp, tempName, writeAll} from '../util/fsx.js'
import {VeloError} from '../util/errors.js'
import {mapLimit} from './mapLimit.js'
import {RemoteIndex, blockEntries, packSize, type RemotePack} from './RemoteIndex.js'
import {packKey} from './RemoteRepo.js'
import type {Transport} from './Transport.js'
import {verifyBlock, verifyPack} from './verifyPack.js'

export interface FetchOptions {
  transport: Transport
  index: RemoteIndex
  /** Ids of the objects to bring (ones already present should be left out by the caller). */
  ids: Iterable<Uint8Array>
  packsDir: string
  tmpDir: string
  /** Download a whole data pack when at least this fraction of its bytes is wanted (default 0.5; Infinity: never). */
  wholeFraction?: number
  /** Metadata packs are always downloaded whole unless this is false. */
  wholeMeta?: boolean
  /** Blocks at most this far apart are read in one request (default 64 KiB). */
  gap?: number
  /** Largest single range request (default 8 MiB). */
  maxRange?: number
  signal?: AbortSignal
  onBytes?: (n: number) => void
  /**
   * 'throw' (default): the first failure fails the whole call and nothing is stored.
   * 'collect': what arrived intact is stored; the ids whose request or block failed are returned
   * in `failed` (lazy reads: one damaged block must not fail the reads of its neighbours).
   */
  failures?: 'throw' | 'collect'
}

export interface FetchResult {
  /** Packs written into packsDir. */
  packs: WrittenPack[]
  bytes: number
  requests: number
  /** Wanted ids that no remote index lists. */
  missing: Uint8Array[]
  /** With failures: 'collect', wanted ids that did not arrive, and why. */
  failed: {id: Uint8Array; error: unknown}[]
}

export async function fetchObjects(o: FetchOptions): Promise<FetchResult> {
  // pack -> block offset -> the wanted ids in that block
  const byPack = new Map<RemotePack, Map<number, Uint8Array[]>>()
  const missing: Uint8Array[] = []
  for (const id of o.ids) {
    const loc = o.index.locate(id)
    if (!loc) {
      missing.push(id)
      continue
    }
    let m = byPack.get(loc.pack)
    if (!m) byPack.set(loc.pack, (m = new Map()))
    const l = m.get(loc.record.blockOffset)
    if (l) l.push(id)
    else m.set(loc.record.blockOffset, [id])
  }
  const whole: RemotePack[] = []
  const ranges: {pack: RemotePack; offset: number; length: number; blocks: {offset: number; length: number}[]}[] = []
  const gap = o.gap ?? 64 << 10
  const maxRange = o.maxRange ?? 8 << 20
  for (const [pack, offsets] of byPack) {
    const blocks = [...offsets.keys()].sort((a, b) => a - b).map((off) => ({offset: off, length: blockEntries(pack, off)[0].blockLength}))
    const wanted = blocks.reduce((a, b) => a + b.length, 0)
    const isMeta = pack.name.startsWith('m-')
    if ((isMeta && o.wholeMeta !== false) || wanted >= (o.wholeFraction ?? 0.5) * packSize(pack)) {
      whole.push(pack)
      continue
    }
    let cur: (typeof ranges)[number] | undefined
    for (const b of blocks) {
      if (cur && b.offset - (cur.offset + cur.length) <= gap && b.offset + b.length - cur.offset <= maxRange) {
        cur.length = b.offset + b.length - cur.offset
        cur.blocks.push(b)
      } else {
        cur = {pack, offset: b.offset, length: b.length, blocks: [b]}
        ranges.push(cur)
      }
    }
  }

  const result: FetchResult = {packs: [], bytes: 0, requests: 0, missing, failed: []}
  const collect = o.failures === 'collect'
  const fail = (pack: RemotePack, offsets: number[], error: unknown): void => {
    if (!collect) throw error
    for (const off of offsets) for (const id of byPack.get(pack)?.get(off) ?? []) result.failed.push({id, error})
  }
  const count = (n: number): void => {
    result.bytes += n
    result.requests++
    o.onBytes?.(n)
  }
  mkdirp(o.packsDir)
  mkdirp(o.tmpDir)
  const limit = o.transport.capabilities.connections
  await mapLimit(whole, limit, async (pack) => {
    if (existsSync(join(o.packsDir, `${pack.name}.idx`))) return
    try {
      const got = await o.transport.get(packKey(pack.name), {signal: o.signal})
      if (!got) throw gone(o.transport, pack.name)
      count(got.data.length)
      verifyPack(got.data, pack.name, pack.index, `pack ${pack.name} from ${o.transport.location}`)
      installFile(o.packsDir, o.tmpDir, `${pack.name}.pack`, got.data)
      installFile(o.packsDir, o.tmpDir, `${pack.name}.idx`, pack.index.buf)
      result.packs.push({name: pack.name, kind: pack.index.kind, bytes: got.data.length, objects: pack.index.count})
    } catch (err) {
      fail(pack, [...byPack.get(pack)!.keys()], err)
    }
  })

  if (ranges.length > 0) {
    const writers = {
      data: new PackWriter({packsDir: o.packsDir, tmpDir: o.tmpDir, kind: 'data', level: 0}),
      meta: new PackWriter({packsDir: o.packsDir, tmpDir: o.tmpDir, kind: 'meta', level: 0}),
    }
    try {
      // Requests run in parallel; blocks are appended in request order once all have arrived
      // verified, so a failure leaves no partial pack.
      const fetched = await mapLimit(ranges, limit, async (r) => {
        let got
        try {
          got = await o.transport.get(packKey(r.pack.name), {range: {offset: r.offset, length: r.length}, signal: o.signal})
          if (!got) throw gone(o.transport, r.pack.name)
        } catch (err) {
          fail(r.pack, r.blocks.map((b) => b.offset), err)
          return []
        }
        count(got.data.length)
        const data = got.data
        return r.blocks.flatMap((b) => {
          const bytes = data.subarray(b.offset - r.offset, b.offset - r.offset + b.length)
          const entries = blockEntries(r.pack, b.offset)
          try {
            const payload = verifyBlock(bytes, entries, `pack ${r.pack.name} (block at ${b.offset}) from ${o.transport.location}`)
            return [{kind: r.pack.index.kind, block: {bytes: Buffer.from(bytes), rawLength: payload.length, entries: entries.map((e) => ({id: e.id, type: e.type, offset: e.offset, length: e.length}))}}]
          } catch (err) {
            fail(r.pack, [b.offset], err)
            return []
          }
        })
      })
      for (const list of fetched) for (const b of list) writers[b.kind].addBlock(b.block)
      result.packs.push(...writers.data.finish(), ...writers.meta.finish())
    } catch (err) {
      writers.data.abort()
      writers.meta.abort()
      throw err
    }
  }
  return result
}

function gone(t: Transport, name: string): VeloError {
  return new VeloError('ERR_VELO_REMOTE', `pack ${name} is listed on ${t.location} but is gone`, {
    hint: 'someone removed it (a prune?); run the command again',
    data: {pack: name},
  })
}

/** Writes a verified file into dir atomically (temp file, fsync, rename). */
function installFile(dir: string, tmpDir: string, name: string, data: Uint8Array): void {
  mkdirp(tmpDir)
  const tmp = tempName(tmpDir, 'fetch')
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o444)
  try {
    writeAll(fd, data)
    if (durable) fsyncSync(fd)
  } catch (err) {
    closeSync(fd)
    unlinkSync(tmp)
    throw err
  }
  closeSync(fd)
  renameSync(tmp, join(dir, name))
}

