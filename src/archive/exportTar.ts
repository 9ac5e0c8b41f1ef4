/**
 * `velo export tar`: a snapshot (or a directory of it) as a tar archive that GNU tar and bsdtar
 * extract to exactly the snapshot. The output is deterministic: entries in tree order (parents
 * first, names sorted), mtime = the snapshot's time, uid/gid 0, no user or group names, modes
 * 0644/0755 for files, 0755 for directories, 0777 for symlinks. Names longer than ustar allows,
 * non-ASCII names and link targets, and sizes of 8 GiB and more get pax records.
 */
import {Transform, type Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {entryAt, splitRevPath} from '../api/treePath.js'
import {createHasher} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import type {TreeEntry} from '../objects/tree.js'
import {ObjectType} from '../pack/block.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError} from '../util/errors.js'
import {compressor, type Compression} from './compression.js'
import {type ContentReader, createContentReader, type FileRef} from './ContentReader.js'
import type {InteropProgress} from './importTar.js'
import {createTarPack, type TarHeader, type TarPack} from './tarStream.js'

export interface ExportTarOptions {
  /** REV or REV:PATH (a directory of the snapshot). */
  rev: string
  output: Writable
  compression?: Compression
  level?: number
  /** Where file contents are read: in a worker thread for large exports (default auto). */
  readAhead?: 'auto' | 'inline' | 'worker'
  /** Reports entries and content bytes written (of the total), every 100 ms. */
  onProgress?: (p: InteropProgress) => void
}

export interface ExportTarResult {
  snapshot: Oid
  path: string
  compression: Compression
  entries: number
  files: number
  dirs: number
  symlinks: number
  bytes: number
  archiveBytes: number
}

/** Contents up to this size are read whole and given to the packer as one buffer. */
const WHOLE_MAX = 16 << 20
/** Wait for the output to catch up after this many bytes have been queued. */
const QUEUE_BYTES = 8 << 20
/** Largest size a ustar header holds in octal (8 GiB - 1); above it the size goes in a pax record. */
const USTAR_MAX_SIZE = 0o77777777777
/** Size of the pieces written to the output; pieces of PASS_THROUGH bytes or more are not copied. */
const OUT_PIECE = 1 << 20
const PASS_THROUGH = 64 << 10

export async function exportTar(repo: Repository, o: ExportTarOptions): Promise<ExportTarResult> {
  const {rev, path} = splitRevPath(o.rev)
  const snapshot = repo.resolveSnapshot(rev)
  const snap = repo.readSnapshot(snapshot)
  const start = entryAt(repo, snap.tree, path)
  if (start.kind !== 'dir') throw new VeloError('ERR_VELO_USAGE', `${path} is not a directory in the snapshot`, {hint: 'export a snapshot or one of its directories'})
  const compression = o.compression ?? 'none'
  const r: ExportTarResult = {snapshot, path, compression, entries: 0, files: 0, dirs: 0, symlinks: 0, bytes: 0, archiveBytes: 0}
  const mtime = new Date(Math.floor(snap.time / 1000) * 1000)

  const pack = createTarPack()
  const stages: NodeJS.ReadWriteStream[] = compression === 'none' ? [] : [compressor(compression, o.level)]
  const done = (pipeline as (streams: unknown[]) => Promise<void>)([pack, coalescer((n) => (r.archiveBytes += n)), ...stages, o.output])
  let failed: unknown
  done.catch((err: unknown) => (failed = err))

  let queued = 0
  let lastReport = 0
  const report = (force = false): void => {
    const now = Date.now()
    if (!o.onProgress || (!force && now - lastReport < 100)) return
    lastReport = now
    o.onProgress({phase: 'write', unit: 'entries', done: r.entries, bytes: r.bytes, totalBytes: start.size})
  }
  /** Adds an entry; every QUEUE_BYTES waits until the packer has taken it (backpressure). */
  const add = async (header: TarHeader, content?: Buffer): Promise<void> => {
    r.entries++
    queued += 512 + (content?.length ?? 0)
    if (queued < QUEUE_BYTES) {
      quiet(content ? pack.entry(header, content) : pack.entry(header))
      return
    }
    queued = 0
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve())
      quiet(content ? pack.entry(header, content, cb) : pack.entry(header, cb))
    })
    if (failed) throw failed
  }

  // The entries in archive order first (trees are small and cached), so that file contents can
  // be read ahead (in a worker for large exports). Headers are made as entries are written.
  const items: {name: string; e: TreeEntry}[] = []
  const files: FileRef[] = []
  const collect = (tree: Oid, prefix: string): void => {
    for (const e of repo.readTree(tree)) {
      const name = prefix + e.name
      items.push({name, e})
      if (e.kind === 'dir') {
        r.dirs++
        collect(e.id, `${name}/`)
      } else if (e.kind === 'symlink') {
        r.symlinks++
      } else {
        r.files++
        if (e.size > 0 && e.size <= WHOLE_MAX) files.push({id: e.id, size: e.size})
      }
    }
  }
  let reader: ContentReader | undefined
  try {
    collect(start.id, '')
    reader = createContentReader(repo, files, o.readAhead)
    for (const {name, e} of items) {
      if (e.kind === 'dir') {
        await add({name: `${name}/`, type: 'directory', mode: 0o755, mtime, uid: 0, gid: 0, uname: '', gname: ''})
      } else if (e.kind === 'symlink') {
        await add({name, type: 'symlink', linkname: e.target, mode: 0o777, mtime, uid: 0, gid: 0, uname: '', gname: ''})
      } else {
        const header: TarHeader = {name, type: 'file', mode: e.kind === 'exec' ? 0o755 : 0o644, size: e.size, mtime, uid: 0, gid: 0, uname: '', gname: '', ...paxFor(e.size)}
        if (e.size > WHOLE_MAX) {
          await streamEntry(repo, pack, header, e.id)
          r.entries++
        } else {
          await add(header, e.size === 0 ? EMPTY : await reader.next())
        }
        r.bytes += e.size
      }
      if (failed) throw failed
      report()
    }
    pack.finalize()
    await done
    report(true)
  } catch (err) {
    pack.destroy(err as Error)
    await done.catch(() => undefined)
    throw failed ?? err
  } finally {
    await reader?.close()
  }
  return r
}

/**
 * Gathers the packer's many small pieces (512-byte headers, padding, small files) into pieces of up
 * to OUT_PIECE bytes: one write instead of three per small file. Large pieces pass as they are
 * (copying them costs more than writing them: fresh memory faults in page by page). Counts bytes.
 */
function coalescer(count: (n: number) => void): Transform {
  let buf = Buffer.allocUnsafe(OUT_PIECE)
  let used = 0
  return new Transform({
    highWaterMark: OUT_PIECE,
    transform(chunk: Buffer, _enc, cb) {
      count(chunk.length)
      if (chunk.length >= PASS_THROUGH) {
        if (used > 0) this.push(buf.subarray(0, used))
        buf = Buffer.allocUnsafe(OUT_PIECE)
        used = 0
        return cb(null, chunk)
      }
      if (used + chunk.length > OUT_PIECE) {
        this.push(buf.subarray(0, used))
        buf = Buffer.allocUnsafe(OUT_PIECE)
        used = 0
      }
      chunk.copy(buf, used)
      used += chunk.length
      cb()
    },
    flush(cb) {
      cb(null, used > 0 ? buf.subarray(0, used) : undefined)
    },
  })
}

/**
 * When the packer fails (the output closed), it destroys every pending entry with the error: the
 * failure is reported once, by the pipeline, not as an uncaught error of each entry.
 */
function quiet<T extends Writable>(sink: T): T {
  sink.on('error', () => undefined)
  return sink
}

/** tar-stream adds pax records for long or non-ASCII names and targets; sizes of 8 GiB and more get one here. */
function paxFor(size: number): {pax?: Record<string, string>} {
  return size > USTAR_MAX_SIZE ? {pax: {size: String(size)}} : {}
}

const EMPTY = Buffer.alloc(0)

/** Streams a large file chunk by chunk, verified as a whole, with backpressure. */
async function streamEntry(repo: Repository, pack: TarPack, header: TarHeader, id: Oid): Promise<void> {
  let resolveDone!: () => void
  let rejectDone!: (err: unknown) => void
  const finished = new Promise<void>((resolve, reject) => {
    resolveDone = resolve
    rejectDone = reject
  })
  const sink = quiet(pack.entry(header, (err) => (err ? rejectDone(err) : resolveDone())))
  finished.catch(() => undefined)
  const h = createHasher()
  for (const c of repo.packs.chunksOf(id, header.size)) {
    const data = repo.packs.read(c.id, ObjectType.blob).data
    h.update(data)
    if (!sink.write(data)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          sink.off('drain', done)
          sink.off('close', done)
          resolve()
        }
        sink.on('drain', done)
        sink.on('close', done)
      })
    }
    if (sink.destroyed) return finished
  }
  if (h.digest().toString('hex') !== id) {
    sink.destroy()
    throw new VeloError('ERR_VELO_CORRUPT', `${header.name} (${id}) failed verification`, {hint: 'run velo fsck'})
  }
  sink.end()
  await finished
}
