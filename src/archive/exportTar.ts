/**
 * `velo export tar`: a snapshot (or a directory of it) as a tar archive that GNU tar and bsdtar
 * extract to exactly the snapshot. The output is deterministic: entries in tree order (parents
 * first, names sorted), mtime = the snapshot's time, uid/gid 0, no user or group names, modes
 * 0644/0755 for files, 0755 for directories, 0777 for symlinks. Names longer than ustar allows,
 * non-ASCII names and link targets, and sizes of 8 GiB and more get pax records.
 */
import type {Writable} from 'node:stream'
import {finished, pipeline} from 'node:stream/promises'
import {entryAt, splitRevPath} from '../api/treePath.js'
import {createHasher} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import type {TreeEntry} from '../objects/tree.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError} from '../util/errors.js'
import {ArchiveOutput} from './ArchiveOutput.js'
import {compressor, type Compression} from './compression.js'
import {ContentReader} from './ContentReader.js'
import type {InteropProgress} from './importTar.js'
import {encodeTarHeader, TAR_END, tarPadding, type TarHeader} from './tarStream.js'

export interface ExportTarOptions {
  /** REV or REV:PATH (a directory of the snapshot). */
  rev: string
  output: Writable
  compression?: Compression
  level?: number
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

/** Largest size a ustar header holds in octal (8 GiB - 1); above it the size goes in a pax record. */
const USTAR_MAX_SIZE = 0o77777777777

/**
 * The archive is laid out here, entry after entry, into large buffers (ArchiveOutput): every
 * header byte comes from tar-stream's header codec (encodeTarHeader), exactly as its pack stream
 * would write them, without a stream and a promise per entry. Contents are read block by block
 * (ContentReader) and copied once, into the output buffer.
 */
export async function exportTar(repo: Repository, o: ExportTarOptions): Promise<ExportTarResult> {
  const {rev, path} = splitRevPath(o.rev)
  const snapshot = repo.resolveSnapshot(rev)
  const snap = repo.readSnapshot(snapshot)
  const start = entryAt(repo, snap.tree, path)
  if (start.kind !== 'dir') throw new VeloError('ERR_VELO_USAGE', `${path} is not a directory in the snapshot`, {hint: 'export a snapshot or one of its directories'})
  const compression = o.compression ?? 'none'
  const r: ExportTarResult = {snapshot, path, compression, entries: 0, files: 0, dirs: 0, symlinks: 0, bytes: 0, archiveBytes: 0}
  const mtime = new Date(Math.floor(snap.time / 1000) * 1000)

  // The archive goes through the compressor, if any, to the output; the pipeline ends the output.
  const comp = compression === 'none' ? undefined : compressor(compression, o.level)
  const head: Writable = comp ?? o.output
  const out = new ArchiveOutput(head)
  const done = comp ? pipeline(comp, o.output) : undefined
  let failed: unknown
  done?.catch((err: unknown) => (failed = err))
  // Stays attached: a late error of the output (after a failure, while it closes) is not uncaught.
  o.output.on('error', (err: unknown) => (failed ??= err))

  let lastReport = 0
  const report = (force = false): void => {
    const now = Date.now()
    if (!o.onProgress || (!force && now - lastReport < 100)) return
    lastReport = now
    o.onProgress({phase: 'write', unit: 'entries', done: r.entries, bytes: r.bytes, totalBytes: start.size})
  }
  const header = (h: TarHeader): void => {
    for (const b of encodeTarHeader(h)) out.put(b)
    r.entries++
  }
  /** Lets the output catch up (and surfaces its failure) once enough is queued. */
  const pace = async (): Promise<void> => {
    if (failed) throw failed
    if (out.full) await out.ready()
    if (failed) throw failed
  }

  // The entries in archive order first (trees are small and cached).
  const items: {name: string; e: TreeEntry}[] = []
  const collect = (tree: Oid, prefix: string): void => {
    for (const e of repo.readTree(tree)) {
      const name = prefix + e.name
      items.push({name, e})
      if (e.kind === 'dir') collect(e.id, `${name}/`)
    }
  }
  const reader = new ContentReader(repo.packs)
  try {
    collect(start.id, '')
    for (const {name, e} of items) {
      if (e.kind === 'dir') {
        r.dirs++
        header({name: `${name}/`, type: 'directory', mode: 0o755, size: 0, mtime, uid: 0, gid: 0, uname: '', gname: ''})
      } else if (e.kind === 'symlink') {
        r.symlinks++
        header({name, type: 'symlink', linkname: e.target, mode: 0o777, size: 0, mtime, uid: 0, gid: 0, uname: '', gname: ''})
      } else {
        r.files++
        const h: TarHeader = {name, type: 'file', mode: e.kind === 'exec' ? 0o755 : 0o644, size: e.size, mtime, uid: 0, gid: 0, uname: '', gname: '', ...paxFor(e.size)}
        await writeFile(repo, reader, out, h, e.id, header, pace)
        r.bytes += e.size
      }
      await pace()
      report()
    }
    out.put(TAR_END)
    await out.end()
    head.end()
    await (done ?? finished(o.output))
    if (failed) throw failed
    r.archiveBytes = out.bytes
    report(true)
  } catch (err) {
    const e = failed ?? err
    // The output is closed before the caller hears of the failure (and removes a partial file).
    head.destroy(e as Error)
    if (head !== o.output) o.output.destroy(e as Error)
    await done?.catch(() => undefined)
    await finished(o.output).catch(() => undefined)
    throw e
  } finally {
    reader.close()
  }
  return r
}

/** tar-stream adds pax records for long or non-ASCII names and targets; sizes of 8 GiB and more get one here. */
function paxFor(size: number): {pax?: Record<string, string>} {
  return size > USTAR_MAX_SIZE ? {pax: {size: String(size)}} : {}
}

/**
 * A file entry: its header, its content (verified before its header is written when it is one
 * blob; a chunked file is verified as a whole at its end) and the padding.
 */
async function writeFile(repo: Repository, reader: ContentReader, out: ArchiveOutput, h: TarHeader, id: Oid, header: (h: TarHeader) => void, pace: () => Promise<void>): Promise<void> {
  const size = h.size ?? 0
  if (size === 0) {
    header(h)
    return
  }
  const chunks = repo.packs.chunksOf(id, size)
  if (chunks.length === 1 && chunks[0].id === id) {
    const data = reader.blob(id)
    if (data.length !== size) throw new VeloError('ERR_VELO_CORRUPT', `file ${id} has ${data.length} bytes, its tree says ${size}`, {hint: 'run velo fsck'})
    header(h)
    out.put(data)
    out.put(tarPadding(size))
    return
  }
  let total = 0
  for (const c of chunks) total += c.size
  if (total !== size) throw new VeloError('ERR_VELO_CORRUPT', `file ${id} has ${total} bytes in its chunk list, its tree says ${size}`, {hint: 'run velo fsck'})
  header(h)
  const whole = createHasher()
  for (const c of chunks) {
    const data = reader.blob(c.id, false)
    if (data.length !== c.size) throw new VeloError('ERR_VELO_CORRUPT', `chunk ${c.id} of ${h.name} has ${data.length} bytes, its chunk list says ${c.size}`, {hint: 'run velo fsck'})
    whole.update(data)
    out.put(data)
    await pace()
  }
  if (whole.digest().toString('hex') !== id) {
    throw new VeloError('ERR_VELO_CORRUPT', `${h.name} (${id}) failed verification`, {hint: 'run velo fsck'})
  }
  out.put(tarPadding(size))
}
