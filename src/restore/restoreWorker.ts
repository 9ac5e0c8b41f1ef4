/**
 * Worker thread entry for restore: writes a contiguous run of files in pack order, reading each
 * block once (BlockReader) and verifying every file's BLAKE3 before writing it.
 */
import {closeSync, constants, openSync} from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'
import {createHasher, hash} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import {BlockReader} from '../store/BlockReader.js'
import {PackStore} from '../store/PackStore.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {writeAll} from '../util/fsx.js'
import {writeFileFromStore} from './writeFileFromStore.js'

export interface RestoreJobs {
  packsDir: string
  paths: string[]
  ids: string[]
  sizes: number[]
  exec: boolean[]
  /** Location of each plain blob (pack path, block offset/length, offset/length in the payload); '' when chunked or unknown. */
  packPaths: string[]
  blockOffsets: number[]
  blockLengths: number[]
  offsets: number[]
  types: number[]
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

export function writeJobs(jobs: RestoreJobs, onProgress?: (files: number) => void): void {
  const store = new PackStore(jobs.packsDir)
  const reader = new BlockReader()
  try {
    for (let i = 0; i < jobs.paths.length; i++) {
      const path = jobs.paths[i]
      if (jobs.types[i] === ObjectType.chunkList) {
        writeChunked(store, reader, path, jobs.ids[i] as Oid, jobs.sizes[i], jobs.exec[i])
        continue
      }
      if (jobs.types[i] !== ObjectType.blob) {
        writeFileFromStore(store, path, jobs.ids[i] as Oid, jobs.sizes[i], jobs.exec[i])
        continue
      }
      const payload = reader.read(jobs.packPaths[i], jobs.blockOffsets[i], jobs.blockLengths[i])
      const start = jobs.offsets[i]
      const data = payload.subarray(start, start + jobs.sizes[i])
      if (data.length !== jobs.sizes[i] || hash(data).toString('hex') !== jobs.ids[i]) {
        throw new VeloError('ERR_VELO_CORRUPT', `object ${jobs.ids[i]} in pack ${jobs.packPaths[i]} failed verification (BLAKE3 mismatch)`, {
          hint: 'run velo fsck; velo fsck --repair --from REMOTE restores it from a remote that has it',
        })
      }
      const fd = create(path, jobs.exec[i])
      try {
        writeAll(fd, data)
      } catch (err) {
        throw fsError(err, path, 'writing')
      } finally {
        closeSync(fd)
      }
      if (onProgress && (i & 1023) === 1023) onProgress(i + 1)
    }
  } finally {
    reader.close()
    store.close()
  }
}

/**
 * A large file, chunk by chunk: each chunk's block read into the reader's reused memory (a fresh
 * buffer per chunk costs a page fault per 4 KiB), the whole file verified against its id.
 */
function writeChunked(store: PackStore, reader: BlockReader, path: string, id: Oid, size: number, exec: boolean): void {
  const chunks = store.chunksOf(id, size)
  const fd = create(path, exec)
  try {
    const h = createHasher()
    let written = 0
    for (const c of chunks) {
      const loc = store.find(c.id)
      if (!loc || loc.record.type !== ObjectType.blob) {
        // not where a chunk should be: the store reads it (or names what is wrong)
        const data = store.read(c.id, ObjectType.blob).data
        h.update(data)
        writeAll(fd, data)
        written += data.length
        continue
      }
      const {record} = loc
      const payload = reader.read(loc.pack.path, record.blockOffset, record.blockLength)
      const data = payload.subarray(record.offset, record.offset + record.length)
      if (hash(data).toString('hex') !== c.id) {
        throw new VeloError('ERR_VELO_CORRUPT', `object ${c.id} in pack ${loc.pack.path} failed verification (BLAKE3 mismatch)`, {
          hint: 'run velo fsck; velo fsck --repair --from REMOTE restores it from a remote that has it',
        })
      }
      h.update(data)
      try {
        writeAll(fd, data)
      } catch (err) {
        throw fsError(err, path, 'writing')
      }
      written += data.length
    }
    if (written !== size || h.digest().toString('hex') !== id) {
      throw new VeloError('ERR_VELO_CORRUPT', `file ${path} (${id}) failed verification (BLAKE3 mismatch)`, {
        hint: 'run velo fsck; velo fsck --repair --from REMOTE restores it from a remote that has it',
      })
    }
  } finally {
    closeSync(fd)
  }
}

function create(path: string, exec: boolean): number {
  try {
    return openSync(path, CREATE, exec ? 0o755 : 0o644)
  } catch (err) {
    if (isErrno(err, 'ELOOP', 'EEXIST')) {
      throw new VeloError('ERR_VELO_UNSAFE_PATH', `refusing to write ${path}: something appeared there during the restore`, {hint: 'restore into a directory nobody else writes to'})
    }
    throw fsError(err, path, 'creating')
  }
}

if (parentPort && workerData && (workerData as RestoreJobs).paths) {
  const jobs = workerData as RestoreJobs
  try {
    writeJobs(jobs, (files) => parentPort!.postMessage({t: 'progress', files}))
    parentPort.postMessage({t: 'done', files: jobs.paths.length})
  } catch (err) {
    const e = err as VeloError
    parentPort.postMessage({t: 'error', code: e.code, message: e.message, hint: e.hint})
  }
}
