/**
 * Reads objects from the packs of a repository. Every object returned is verified: blobs, trees
 * and snapshots by re-hashing, chunk lists by their own checksum.
 */
import {closeSync, existsSync, openSync, readFileSync, readSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {hash} from '../objects/hash.js'
import {type Oid} from '../objects/oid.js'
import {decodeChunkList, type Chunk} from '../objects/chunkList.js'
import {ObjectType, decodeBlock} from '../pack/block.js'
import {PackIndex, type IndexRecord} from '../pack/packIndex.js'
import {VeloError, isErrno} from '../util/errors.js'

export interface LoadedPack {
  name: string
  path: string
  index: PackIndex
  fd?: number
}

export interface StoredObject {
  type: number
  data: Buffer
}

export interface Location {
  pack: LoadedPack
  record: IndexRecord
}

export const TYPE_NAMES: Record<number, string> = {1: 'blob', 2: 'tree', 3: 'snapshot', 4: 'chunk list', 5: 'run'}

class BlockCache {
  private map = new Map<string, Buffer>()
  private bytes = 0
  constructor(private readonly limit: number) {}
  get(key: string): Buffer | undefined {
    const v = this.map.get(key)
    if (v) {
      this.map.delete(key)
      this.map.set(key, v)
    }
    return v
  }
  set(key: string, v: Buffer): void {
    if (v.length > this.limit / 4) return
    this.map.set(key, v)
    this.bytes += v.length
    while (this.bytes > this.limit) {
      const [k, old] = this.map.entries().next().value as [string, Buffer]
      this.map.delete(k)
      this.bytes -= old.length
    }
  }
}

class PackReplaced extends Error {}

export class PackStore {
  packs: LoadedPack[] = []
  private known = new Set<string>()
  private cache = new BlockCache(64 << 20)
  /** Damaged indexes found while loading: name -> reason. */
  readonly damaged = new Map<string, string>()

  constructor(readonly dir: string) {
    this.refresh()
  }

  /** Loads indexes that appeared since the last call. Returns the number of new packs. */
  refresh(): number {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 0
      throw err
    }
    let added = 0
    for (const f of names) {
      if (!f.endsWith('.idx')) continue
      const name = f.slice(0, -4)
      if (this.known.has(name)) continue
      this.known.add(name)
      try {
        const index = new PackIndex(readFileSync(join(this.dir, f)))
        if (index.packChecksum.toString('hex') !== name.slice(2)) throw new RangeError('index names another pack')
        // Metadata packs first: trees and snapshots are looked up far more often than they are few.
        const p = {name, path: join(this.dir, `${name}.pack`), index}
        if (index.kind === 'meta') this.packs.unshift(p)
        else this.packs.push(p)
        added++
      } catch (err) {
        this.damaged.set(name, (err as Error).message)
      }
    }
    return added
  }

  locate(id: Uint8Array): Location | undefined {
    for (const pack of this.packs) {
      const i = pack.index.find(id)
      if (i >= 0) return {pack, record: pack.index.record(i)}
    }
    return undefined
  }

  has(oid: Oid | Uint8Array): boolean {
    const id = typeof oid === 'string' ? Buffer.from(oid, 'hex') : oid
    return this.contains(id) || (this.refreshOnMiss() > 0 && this.contains(id))
  }

  /** Like locate() !== undefined, without building the record (asked once per directory by a re-snapshot). */
  private contains(id: Uint8Array): boolean {
    for (const pack of this.packs) if (pack.index.find(id) >= 0) return true
    return false
  }

  private lastMissRefresh = 0

  /**
   * A miss may mean another process has written a pack since we listed them: list again, but at
   * most every 200 ms (a snapshot asks about thousands of new trees, each a miss).
   */
  private refreshOnMiss(): number {
    const now = Date.now()
    if (now - this.lastMissRefresh < 200) return 0
    this.lastMissRefresh = now
    return this.refresh()
  }

  typeOf(oid: Oid): number | undefined {
    return this.find(oid)?.record.type
  }

  find(oid: Oid): Location | undefined {
    const id = Buffer.from(oid, 'hex')
    let loc = this.locate(id)
    if (!loc && this.refreshOnMiss() > 0) loc = this.locate(id)
    return loc
  }

  /** All object ids that start with the hex prefix. */
  resolvePrefix(prefix: string, limit = 10): Oid[] {
    const out = new Set<Oid>()
    for (const p of this.packs) for (const i of p.index.findPrefix(prefix, limit)) out.add(p.index.oidAt(i))
    return [...out].sort()
  }

  private readBlockPayload(loc: Location, oid: string): Buffer {
    const key = `${loc.pack.name}:${loc.record.blockOffset}`
    const hit = this.cache.get(key)
    if (hit) return hit
    const {pack, record} = loc
    const buf = Buffer.allocUnsafe(record.blockLength)
    try {
      pack.fd ??= openSync(pack.path, 'r')
      let got = 0
      while (got < buf.length) {
        const n = readSync(pack.fd, buf, got, buf.length - got, record.blockOffset + got)
        if (n === 0) break
        got += n
      }
      if (got !== buf.length) throw new RangeError('pack truncated')
      const payload = decodeBlock(buf)
      this.cache.set(key, payload)
      return payload
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        if (this.forgetIfReplaced(pack)) throw new PackReplaced()
        throw new VeloError('ERR_VELO_CORRUPT', `pack ${pack.name} is missing (needed for object ${oid})`, {
          hint: 'run velo fsck; restore the pack from a remote with velo fsck --repair --from REMOTE',
          data: {oid, pack: pack.name},
        })
      }
      if (err instanceof RangeError) {
        throw new VeloError('ERR_VELO_CORRUPT', `object ${oid} in pack ${pack.name} is damaged: ${err.message}`, {
          hint: 'run velo fsck to see the extent of the damage',
          data: {oid, pack: pack.name},
        })
      }
      throw err
    }
  }

  /**
   * gc and repack remove a pack's index before the pack: a pack gone together with its index was
   * replaced (its live objects are in newer packs), so forget it and look again.
   */
  private forgetIfReplaced(pack: LoadedPack): boolean {
    if (existsSync(`${pack.path.slice(0, -'.pack'.length)}.idx`)) return false
    this.packs = this.packs.filter((p) => p !== pack)
    return true
  }

  /** Reads and verifies an object. */
  read(oid: Oid, expectType?: number): StoredObject {
    const loc = this.find(oid)
    if (!loc && this.damaged.size > 0) {
      const [name, why] = [...this.damaged][0]
      throw new VeloError('ERR_VELO_CORRUPT', `object ${oid} is not found, and the index of pack ${name} is damaged (${why})`, {
        hint: 'run velo fsck; velo fsck --repair rebuilds the index',
        data: {oid, pack: name},
      })
    }
    if (!loc) {
      throw new VeloError('ERR_VELO_NOT_FOUND', `object ${oid} is not in the repository`, {
        hint: 'run velo fsck; if it lives on a remote, velo pull it',
        data: {oid},
      })
    }
    const {record} = loc
    if (expectType !== undefined && record.type !== expectType) {
      throw new VeloError('ERR_VELO_NOT_FOUND', `object ${oid} is a ${TYPE_NAMES[record.type] ?? 'unknown object'}, not a ${TYPE_NAMES[expectType]}`, {
        data: {oid},
      })
    }
    let payload: Buffer
    try {
      payload = this.readBlockPayload(loc, oid)
    } catch (err) {
      if (err instanceof PackReplaced) return this.read(oid, expectType)
      throw err
    }
    if (record.offset + record.length > payload.length) {
      throw new VeloError('ERR_VELO_CORRUPT', `object ${oid} lies outside its block in pack ${loc.pack.name}`, {
        hint: 'run velo fsck',
        data: {oid, pack: loc.pack.name},
      })
    }
    const data = payload.subarray(record.offset, record.offset + record.length)
    if (record.type === ObjectType.chunkList) {
      decodeChunkList(data, `chunk list ${oid} in pack ${loc.pack.name}`)
    } else if (hash(data).toString('hex') !== oid) {
      throw new VeloError('ERR_VELO_CORRUPT', `object ${oid} in pack ${loc.pack.name} failed verification (BLAKE3 mismatch)`, {
        hint: 'run velo fsck; velo fsck --repair --from REMOTE restores it from a remote that has it',
        data: {oid, pack: loc.pack.name},
      })
    }
    return {type: record.type, data}
  }

  /** The chunks of a file: one chunk (itself) for a plain blob. */
  chunksOf(oid: Oid, size?: number): Chunk[] {
    const loc = this.find(oid)
    if (loc && loc.record.type === ObjectType.chunkList) {
      return decodeChunkList(this.read(oid).data, `chunk list ${oid}`).chunks
    }
    return [{id: oid, size: size ?? loc?.record.length ?? 0}]
  }

  /** Whole content of a file (blob or chunked). For large files prefer streaming chunksOf(). */
  readContent(oid: Oid): Buffer {
    const chunks = this.chunksOf(oid)
    if (chunks.length === 1 && chunks[0].id === oid) return this.read(oid, ObjectType.blob).data
    const all = Buffer.concat(chunks.map((c) => this.read(c.id, ObjectType.blob).data))
    if (hash(all).toString('hex') !== oid) {
      throw new VeloError('ERR_VELO_CORRUPT', `chunked file ${oid} failed verification (BLAKE3 mismatch)`, {
        hint: 'run velo fsck',
        data: {oid},
      })
    }
    return all
  }

  close(): void {
    for (const p of this.packs) {
      if (p.fd !== undefined) closeSync(p.fd)
      p.fd = undefined
    }
  }
}
