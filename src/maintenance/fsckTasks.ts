/**
 * The two kinds of fsck work that run in worker threads (fsckWorker.ts) or, for small
 * repositories, on the calling thread: verifying one pack end to end (verifyPack), and checking
 * chunked files as a whole (their chunks put together must hash to the file's id). Tasks and
 * results are plain data, so they cross postMessage unchanged.
 */
import {createHasher} from '../objects/hash.js'
import {PackIndex} from '../pack/packIndex.js'
import {BlockCache, type ChunkPlace} from './BlockCache.js'
import type {StreamedFile} from './ChunkStreams.js'
import type {PackFile} from './packFiles.js'
import {verifyPack, type PackVerification} from './verifyPack.js'

export type {ChunkPlace}

export interface ChunkedFile {
  id: string
  chunks: ChunkPlace[]
}

export type FsckTask = {kind: 'pack'; file: PackFile; idx: Uint8Array; chunked?: StreamedFile[]} | {kind: 'chunked'; files: ChunkedFile[]}

export interface ChunkedVerdict {
  id: string
  /** Why the file is damaged (its chunks do not add up), or undefined when it verifies. */
  bad?: string
  /** A chunk that could not be read (its own pack check names the damage). */
  unreadable?: {id: string; message: string}
}

export type FsckTaskResult = {kind: 'pack'; pack: PackVerification} | {kind: 'chunked'; verdicts: ChunkedVerdict[]}

export function runFsckTask(t: FsckTask): FsckTaskResult {
  if (t.kind === 'pack') {
    const idx = Buffer.from(t.idx.buffer, t.idx.byteOffset, t.idx.byteLength)
    // The caller loaded (and checksummed) this index already.
    return {kind: 'pack', pack: verifyPack(t.file, new PackIndex(idx, false), t.chunked)}
  }
  const blocks = new BlockCache()
  try {
    return {kind: 'chunked', verdicts: t.files.map((f) => verifyChunkedFile(f, blocks))}
  } finally {
    blocks.close()
  }
}

function verifyChunkedFile(f: ChunkedFile, blocks: BlockCache): ChunkedVerdict {
  const h = createHasher()
  for (let i = 0; i < f.chunks.length; i++) {
    const c = f.chunks[i]
    let payload: Buffer
    try {
      payload = blocks.read(c.packPath, c.blockOffset, c.blockLength)
    } catch (err) {
      return {id: f.id, unreadable: {id: c.id, message: (err as Error).message}}
    }
    if (c.offset + c.length > payload.length) return {id: f.id, unreadable: {id: c.id, message: 'it lies outside its block'}}
    if (c.length !== c.size) return {id: f.id, bad: `chunk ${i + 1} (${c.id}) has ${c.length} bytes, the list says ${c.size}`}
    h.update(payload.subarray(c.offset, c.offset + c.length))
  }
  if (h.digest().toString('hex') !== f.id) return {id: f.id, bad: 'its chunks put together do not hash to its id'}
  return {id: f.id}
}
