/** Writes one file of a snapshot from the object store: verified, created with O_EXCL|O_NOFOLLOW. */
import {closeSync, constants, openSync} from 'node:fs'
import {createHasher} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import type {PackStore} from '../store/PackStore.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {writeAll} from '../util/fsx.js'

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

export function writeFileFromStore(store: PackStore, path: string, id: Oid, size: number, exec: boolean): void {
  const mode = exec ? 0o755 : 0o644
  let fd: number
  try {
    fd = openSync(path, CREATE, mode)
  } catch (err) {
    if (isErrno(err, 'ELOOP', 'EEXIST')) {
      throw new VeloError('ERR_VELO_UNSAFE_PATH', `refusing to write ${path}: something appeared there during the restore`, {hint: 'restore into a directory nobody else writes to'})
    }
    throw fsError(err, path, 'creating')
  }
  try {
    const chunks = store.chunksOf(id, size)
    if (chunks.length === 1 && chunks[0].id === id) {
      writeAll(fd, store.read(id, ObjectType.blob).data)
    } else {
      const h = createHasher()
      for (const c of chunks) {
        const data = store.read(c.id, ObjectType.blob).data
        h.update(data)
        writeAll(fd, data)
      }
      if (h.digest().toString('hex') !== id) {
        throw new VeloError('ERR_VELO_CORRUPT', `file ${path} (${id}) failed verification`, {hint: 'run velo fsck'})
      }
    }
  } catch (err) {
    throw fsError(err, path, 'writing')
  } finally {
    closeSync(fd)
  }
}
