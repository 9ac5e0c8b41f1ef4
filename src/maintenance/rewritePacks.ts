/**
 * Copies the objects of some packs that are to be kept into new packs, in tree order, verifying
 * each object on the way (damage is never propagated, and never hidden by a rewrite). Blocks kept
 * whole are copied as they are; others are split and their kept objects packed again. The caller
 * then makes the new packs durable and removes the old ones (removePacks): index first, then pack,
 * so at every moment each kept object is readable from an old or a new pack.
 */
import {closeSync, openSync, readSync, unlinkSync, utimesSync} from 'node:fs'
import {join} from 'node:path'
import {decodeChunkList} from '../objects/chunkList.js'
import {hash} from '../objects/hash.js'
import {ObjectType, decodeBlock, listPayload} from '../pack/block.js'
import {PackWriter, type WrittenPack} from '../pack/PackWriter.js'
import type {IndexRecord, PackKind} from '../pack/packIndex.js'
import type {Repository} from '../repo/Repository.js'
import type {LoadedPack} from '../store/PackStore.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {fsyncDir, mkdirp} from '../util/fsx.js'
import {failpoint} from './failpoint.js'

export interface RewriteOptions {
  /** Keep the object at `pos` of `pack` (default: everything). */
  keep?: (pack: LoadedPack, pos: number) => boolean
  /** Position in tree order (lower first); objects without one go last. */
  rank?: (hex: string) => number | undefined
  /** mtime given to the new packs: the age their objects keep. */
  mtimeMs: number
  maxPackBytes?: number
  /** Other packs the caller removes afterwards: copies there do not count as kept elsewhere. */
  alsoRemoving?: LoadedPack[]
}

export interface RewriteResult {
  written: WrittenPack[]
  objects: number
  /** Bytes of the new packs. */
  bytes: number
}

interface Kept {
  pos: number
  id: Buffer
  rec: IndexRecord
}

interface Blk {
  pack: LoadedPack
  packOrder: number
  offset: number
  length: number
  total: number
  kept: Kept[]
  rank: number
}

/** Objects this large get a block of their own (as the snapshot writer does). */
const SINGLE = 128 << 10
/** A block kept whole is copied as is when its payload is at least this large. */
const VERBATIM_MIN = 64 << 10

function readBlock(pack: LoadedPack, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length)
  try {
    pack.fd ??= openSync(pack.path, 'r')
    let got = 0
    while (got < length) {
      const n = readSync(pack.fd, buf, got, length - got, offset + got)
      if (n === 0) throw new RangeError('pack truncated')
      got += n
    }
  } catch (err) {
    if (isErrno(err, 'ENOENT') || err instanceof RangeError) {
      throw new VeloError('ERR_VELO_CORRUPT', `pack ${pack.name} cannot be read (${(err as Error).message}): nothing was deleted`, {
        hint: 'run velo fsck, then velo fsck --repair',
        data: {pack: pack.name},
      })
    }
    throw err
  }
  return buf
}

function verified(pack: LoadedPack, k: Kept, payload: Buffer): Buffer {
  const data = payload.subarray(k.rec.offset, k.rec.offset + k.rec.length)
  let ok = k.rec.offset + k.rec.length <= payload.length
  if (ok && k.rec.type === ObjectType.chunkList) {
    try {
      decodeChunkList(data)
    } catch {
      ok = false
    }
  } else if (ok) ok = hash(data).equals(k.id)
  if (!ok) {
    throw new VeloError('ERR_VELO_CORRUPT', `object ${k.id.toString('hex')} in pack ${pack.name} failed verification: nothing was deleted`, {
      hint: 'run velo fsck, then velo fsck --repair (with --from REMOTE if a remote has the object)',
      data: {oid: k.id.toString('hex'), pack: pack.name},
    })
  }
  return data
}

export function rewritePacks(repo: Repository, sources: LoadedPack[], o: RewriteOptions): RewriteResult {
  const res: RewriteResult = {written: [], objects: 0, bytes: 0}
  const sourceSet = new Set([...sources, ...(o.alsoRemoving ?? [])])
  // An object also stored in a pack that stays need not be copied.
  const others = repo.packs.packs.filter((p) => !sourceSet.has(p))
  const elsewhere = (id: Buffer): boolean => others.some((p) => p.index.find(id) >= 0)
  const seen = new Set<string>()
  mkdirp(repo.tmpDir)
  for (const kind of ['meta', 'data'] as PackKind[]) {
    const blocks: Blk[] = []
    sources.forEach((pack, packOrder) => {
      if (pack.index.kind !== kind) return
      const byOff = new Map<number, Blk>()
      const idx = pack.index
      for (let i = 0; i < idx.count; i++) {
        const rec = idx.record(i)
        let b = byOff.get(rec.blockOffset)
        if (!b) {
          b = {pack, packOrder, offset: rec.blockOffset, length: rec.blockLength, total: 0, kept: [], rank: Infinity}
          byOff.set(rec.blockOffset, b)
        }
        b.total++
        if (o.keep && !o.keep(pack, i)) continue
        const id = idx.idAt(i)
        const hex = id.toString('hex')
        if (seen.has(hex) || elsewhere(id)) continue
        seen.add(hex)
        b.kept.push({pos: i, id: Buffer.from(id), rec})
        b.rank = Math.min(b.rank, o.rank?.(hex) ?? Infinity)
      }
      for (const b of byOff.values()) if (b.kept.length > 0) blocks.push(b)
    })
    if (blocks.length === 0) continue
    blocks.sort((a, b) => a.rank - b.rank || a.packOrder - b.packOrder || a.offset - b.offset)
    const w = new PackWriter({packsDir: repo.packsDir, tmpDir: repo.tmpDir, kind, level: kind === 'meta' ? 3 : repo.compressionLevel, maxPackBytes: o.maxPackBytes})
    try {
      const loose: {id: Buffer; type: number; data: Buffer; rank: number}[] = []
      for (const b of blocks) {
        const raw = readBlock(b.pack, b.offset, b.length)
        let payload: Buffer
        try {
          payload = decodeBlock(raw)
        } catch (err) {
          throw new VeloError('ERR_VELO_CORRUPT', `a block of pack ${b.pack.name} is damaged (${(err as Error).message}): nothing was deleted`, {
            hint: 'run velo fsck, then velo fsck --repair',
            data: {pack: b.pack.name, offset: b.offset},
          })
        }
        const datas = b.kept.map((k) => verified(b.pack, k, payload))
        const whole = kind === 'data' && b.kept.length === b.total && payload.length >= VERBATIM_MIN && listPayload(payload).length === b.total
        if (whole) {
          w.flushBlock()
          w.addBlock({bytes: raw, rawLength: payload.length, entries: b.kept.map((k) => ({id: k.id, type: k.rec.type, offset: k.rec.offset, length: k.rec.length}))})
        } else if (kind === 'meta') {
          // Metadata is small: gather it all and pack it again in tree order.
          b.kept.forEach((k, i) => loose.push({id: k.id, type: k.rec.type, data: Buffer.from(datas[i]), rank: o.rank?.(k.id.toString('hex')) ?? Infinity}))
        } else {
          b.kept.forEach((k, i) => add(w, k.id, k.rec.type, datas[i]))
        }
        res.objects += b.kept.length
      }
      loose.sort((a, b) => a.rank - b.rank)
      for (const l of loose) add(w, l.id, l.type, l.data)
      res.written.push(...w.finish())
      failpoint(`rewrite:${kind}-written`)
    } catch (err) {
      w.abort()
      throw err
    }
  }
  for (const p of res.written) {
    res.bytes += p.bytes
    const t = new Date(o.mtimeMs)
    try {
      utimesSync(join(repo.packsDir, `${p.name}.pack`), t, t)
    } catch (err) {
      throw fsError(err, repo.packsDir, 'setting the age of a pack in')
    }
  }
  if (res.written.length > 0) repo.commitPacks(res.written)
  failpoint('rewrite:committed')
  return res
}

function add(w: PackWriter, id: Buffer, type: number, data: Buffer): void {
  if (data.length > SINGLE) {
    w.flushBlock()
    w.addObject(id, type, data)
    w.flushBlock()
  } else w.addObject(id, type, data)
}

/** Removes packs: index first (the pack becomes invisible), then the pack; then syncs the directory. */
export function removePacks(repo: Repository, packs: {name: string}[]): void {
  const names = new Set(packs.map((p) => p.name))
  for (const p of repo.packs.packs) {
    if (names.has(p.name) && p.fd !== undefined) {
      closeSync(p.fd)
      p.fd = undefined
    }
  }
  repo.packs.packs = repo.packs.packs.filter((p) => !names.has(p.name))
  for (const name of names) {
    for (const ext of ['idx', 'pack']) {
      try {
        unlinkSync(join(repo.packsDir, `${name}.${ext}`))
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw fsError(err, repo.packsDir, 'removing a pack from')
      }
      failpoint(`remove:${ext}-removed`)
    }
  }
  if (names.size > 0) fsyncDir(repo.packsDir)
}
