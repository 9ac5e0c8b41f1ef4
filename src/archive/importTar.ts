/**
 * `velo import tar`: a tar archive (plain, gzip or zstd; ustar, pax or GNU) becomes a snapshot.
 * Contents stream into packs through ObjectWriter (chunked exactly as snapshots are), the tree is
 * built and checked by LayerTree, and nothing becomes visible unless the whole archive is accepted.
 */
import {createReadStream, realpathSync, statSync} from 'node:fs'
import {hostname} from 'node:os'
import {basename} from 'node:path'
import type {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {CHUNK_THRESHOLD} from '../chunk/fastcdc.js'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import type {WrittenPack} from '../pack/PackWriter.js'
import {assertRefName, userName} from '../refs/RefStore.js'
import {withRepoLock} from '../repo/RepoLock.js'
import type {Repository} from '../repo/Repository.js'
import {refNameFor} from '../snapshot/refNameFor.js'
import {ObjectWriter} from '../store/ObjectWriter.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {splitArchivePath} from './archivePath.js'
import {ChunkedContent} from './ChunkedContent.js'
import {ContentIngestPool} from './ContentIngestPool.js'
import {decompressedStream, type Compression} from './compression.js'
import {LayerTree} from './LayerTree.js'
import {createTarExtract, type TarHeader} from './tarStream.js'

export interface ImportTarOptions {
  /** Archive path, or '-' for standard input. */
  file: string
  /** The bytes of the archive (default: the file, or process.stdin for '-'). */
  input?: AsyncIterable<Buffer>
  ref?: string
  /** Snapshot the archive is a layer of (OCI): its entries and whiteouts apply on top of it. */
  base?: string
  message?: string
  allowOutsideSymlinks?: boolean
  command?: string
  onWarning?: (msg: string) => void
  /** Reports entries read and archive bytes consumed (of the file's size when known), every 100 ms. */
  onProgress?: (p: InteropProgress) => void
}

/** Progress as the CLI's reporters take it (src/ui/ProgressEvent.ts, ProgressUpdate). */
export interface InteropProgress {
  phase: string
  unit: string
  done: number
  total?: number
  bytes?: number
  totalBytes?: number
}

export interface ImportTarResult {
  id: Oid
  ref: string
  tree: Oid
  /** The ref's previous snapshot (the new snapshot's first parent). */
  parent: Oid | null
  base: Oid | null
  compression: Compression
  entries: number
  files: number
  dirs: number
  symlinks: number
  hardlinks: number
  whiteouts: number
  bytes: number
  skipped: {path: string; reason: string}[]
  newObjects: number
  storedBytes: number
}

const SKIPPED_TYPES: Record<string, string> = {
  'character-device': 'character device',
  'block-device': 'block device',
  fifo: 'fifo',
}

/** The ref an archive goes to without --ref: its file name and 8 hex digits of its path's hash. */
export function refNameForArchive(file: string): string {
  let abs: string
  try {
    abs = realpathSync(file)
  } catch {
    abs = file
  }
  return refNameFor(abs)
}

/** Holds the shared repository lock throughout, so that no gc or repack removes what it writes meanwhile. */
export async function importTar(repo: Repository, o: ImportTarOptions): Promise<ImportTarResult> {
  return withRepoLock(repo, 'shared', o.command ?? 'import tar', () => importTarLocked(repo, o), {onWarning: o.onWarning})
}

async function importTarLocked(repo: Repository, o: ImportTarOptions): Promise<ImportTarResult> {
  const stdin = o.file === '-'
  if (stdin && !o.ref) {
    throw new VeloError('ERR_VELO_USAGE', 'velo import tar - needs --ref NAME', {hint: 'name the ref the archive from standard input goes to, e.g. --ref images/base'})
  }
  const ref = o.ref ?? refNameForArchive(o.file)
  assertRefName(ref)
  const baseId = o.base !== undefined ? repo.resolveSnapshot(o.base) : null
  const baseTree = baseId ? repo.readSnapshot(baseId).tree : undefined
  const input = o.input ?? (stdin ? (process.stdin as AsyncIterable<Buffer>) : await openFile(o.file))
  const totalBytes = stdin || o.input ? undefined : statSync(o.file).size
  let inputBytes = 0
  let lastReport = 0
  const report = (force = false): void => {
    const now = Date.now()
    if (!o.onProgress || (!force && now - lastReport < 100)) return
    lastReport = now
    o.onProgress({phase: 'read', unit: 'entries', done: entries, bytes: inputBytes, totalBytes})
  }
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of input) {
      inputBytes += chunk.length
      yield chunk
    }
  }

  const writer = new ObjectWriter(repo)
  // Contents are hashed, deduplicated and compressed in workers while this thread parses.
  const pool = new ContentIngestPool({packsDir: repo.packsDir, tmpDir: repo.tmpDir, level: repo.compressionLevel, expectedContents: totalBytes === undefined ? undefined : Math.ceil(totalBytes / 4096)})
  const layer = new LayerTree({base: baseTree, readTree: (id) => repo.readTree(id), allowOutsideSymlinks: o.allowOutsideSymlinks})
  const skipped: {path: string; reason: string}[] = []
  let entries = 0
  let hardlinks = 0
  let bytes = 0
  let compression: Compression = 'none'
  try {
    const d = await decompressedStream(o.onProgress ? counted() : input)
    compression = d.compression
    const extract = createTarExtract()
    extract.onEntry((header: TarHeader, content: Readable, next: (err?: unknown) => void) => {
      entries++
      report()
      // When the extractor is destroyed (an error anywhere), it destroys the current entry's stream
      // with the error: without a listener that would be an uncaught exception.
      content.on('error', () => undefined)
      const fail = (err: unknown): void => {
        content.resume()
        next(err)
      }
      try {
        const kind = header.type ?? null
        const name = header.name
        if (kind === 'file' || kind === 'contiguous-file') {
          if (header.pax && Object.keys(header.pax).some((k) => k.startsWith('GNU.sparse.'))) {
            throw new VeloError('ERR_VELO_USAGE', `${name} is a sparse file (GNU.sparse); velo does not read sparse archives`, {hint: 'recreate the archive without --sparse'})
          }
          const parts = splitArchivePath(name)
          if (parts.length > 0 && LayerTree.isWhiteout(parts[parts.length - 1])) {
            layer.addWhiteout(parts)
            drain(content, next)
            return
          }
          const node = layer.addFile(parts, ((header.mode ?? 0o644) & 0o100) !== 0)
          const stored = (id: Oid, size: number): void => {
            node.id = id
            node.size = size
          }
          readContent(content, header.size ?? 0, pool, writer, stored, (err, size) => {
            if (err) return next(err)
            bytes += size ?? 0
            // Waits while the workers are behind (memory stays bounded).
            if (pool.busy) pool.ready().then(() => next(), next)
            else next()
          })
          return
        }
        const parts = splitArchivePath(name)
        if (parts.length > 0 && LayerTree.isWhiteout(parts[parts.length - 1]) && kind !== 'directory') {
          layer.addWhiteout(parts)
        } else if (kind === 'directory') {
          layer.addDir(parts)
        } else if (kind === 'symlink') {
          layer.addSymlink(parts, header.linkname ?? '')
        } else if (kind === 'link') {
          layer.addHardlink(parts, header.linkname ?? '')
          hardlinks++
        } else if (kind !== null && SKIPPED_TYPES[kind]) {
          skipped.push({path: parts.join('/'), reason: SKIPPED_TYPES[kind]})
          o.onWarning?.(`skipped ${parts.join('/')}: a ${SKIPPED_TYPES[kind]} cannot be stored in a snapshot`)
        } else {
          throw new VeloError('ERR_VELO_USAGE', `${name} has an unsupported tar entry type${kind ? ` (${kind})` : ''}`, {
            hint: 'velo reads files, directories, symlinks, hard links, devices and fifos (skipped) of ustar, pax and GNU archives; GNU sparse, multi-volume and incremental archives are not supported',
          })
        }
        drain(content, next)
      } catch (err) {
        fail(err)
      }
    })
    await pipeline(d.stream, extract)
    await pool.drain()
    report(true)
    layer.finish()
  } catch (err) {
    writer.abort()
    await pool.abort()
    throw asArchiveError(err, o.file, compression)
  }

  let id: Oid
  let tree: Oid
  let parent: Oid | null
  let contentPacks: WrittenPack[]
  try {
    contentPacks = await pool.finish()
    tree = layer.write((e) => writer.writeTree(e)).id
    parent = repo.refs.read(ref) ?? null
    const parents = [...(parent ? [parent] : []), ...(baseId && baseId !== parent ? [baseId] : [])]
    const meta: Record<string, string> = {'import.tar': stdin ? '-' : basename(o.file)}
    if (compression !== 'none') meta['import.compression'] = compression
    id = writer.writeSnapshot({tree, parents, time: Date.now(), user: userName(), host: hostname(), message: o.message ?? '', meta})
  } catch (err) {
    writer.abort()
    await pool.abort()
    throw err
  }
  // Contents first, then the packs with the trees and the snapshot, then the ref.
  repo.commitPacks(contentPacks)
  const written = [...contentPacks, ...writer.commit()]
  repo.refs.update(ref, {to: id, expect: parent, command: o.command ?? 'import tar', message: o.message, onWarning: o.onWarning})
  return {
    id,
    ref,
    tree,
    parent,
    base: baseId,
    compression,
    entries,
    files: layer.files,
    dirs: layer.dirs,
    symlinks: layer.symlinkCount,
    hardlinks,
    whiteouts: layer.whiteouts,
    bytes,
    skipped,
    newObjects: writer.newObjects + pool.newObjects,
    storedBytes: written.reduce((a, w) => a + w.bytes, 0),
  }
}

async function openFile(file: string): Promise<AsyncIterable<Buffer>> {
  const s = createReadStream(file, {highWaterMark: 1 << 20})
  await new Promise<void>((resolve, reject) => {
    s.once('open', () => resolve())
    s.once('error', reject)
  }).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT')) throw new VeloError('ERR_VELO_NOT_FOUND', `${file} does not exist`, {hint: 'check the path; use - to read the archive from standard input'})
    if (isErrno(err, 'EISDIR')) throw new VeloError('ERR_VELO_USAGE', `${file} is a directory`, {hint: 'to record a directory use velo snapshot DIR'})
    throw fsError(err, file, 'reading')
  })
  return s
}

function drain(content: Readable, next: (err?: unknown) => void): void {
  content.on('end', () => next())
  content.on('error', (err) => next(err))
  content.resume()
}

/**
 * Reads an entry's content and hands it to the pool: a content up to CHUNK_THRESHOLD whole (its
 * pieces are copied once, into the pool's batch), a larger one cut into chunks as it streams in.
 * `done` runs when the entry has been read; `stored` when its id is known (later, from a worker).
 */
function readContent(
  content: Readable,
  size: number,
  pool: ContentIngestPool,
  writer: ObjectWriter,
  stored: (id: Oid, size: number) => void,
  done: (err: unknown, size?: number) => void,
): void {
  const chunked = size > CHUNK_THRESHOLD ? new ChunkedContent(pool, (id, list) => writer.putRaw(Buffer.from(id, 'hex'), ObjectType.chunkList, list), stored) : undefined
  const parts: Buffer[] = []
  let got = 0
  let over = false
  const finish = (err: unknown): void => {
    if (over) return
    over = true
    if (err) content.resume()
    done(err, got)
  }
  content.on('data', (d: Buffer) => {
    if (over) return
    got += d.length
    if (chunked) chunked.write(d)
    else parts.push(d)
  })
  content.on('error', (err) => finish(err))
  content.on('end', () => {
    if (over) return
    try {
      if (chunked) chunked.finish()
      else pool.add(parts, got, (id) => stored(id.toString('hex') as Oid, got))
      finish(null)
    } catch (err) {
      finish(err)
    }
  })
}

/** Errors of our own rules pass through; anything else while decoding means a damaged archive. */
function asArchiveError(err: unknown, file: string, compression: Compression): unknown {
  if (err instanceof VeloError) return err
  const e = err as NodeJS.ErrnoException
  if (typeof e?.syscall === 'string') return fsError(err, file, 'reading')
  const what = compression === 'none' ? 'a tar archive' : `a ${compression}-compressed tar archive`
  return new VeloError('ERR_VELO_CORRUPT', `cannot read ${file === '-' ? 'standard input' : file} as ${what}: ${e?.message ?? String(err)}`, {
    hint: 'check that the file is a complete tar archive (plain, gzip or zstd); nothing was imported',
    cause: err,
  })
}
