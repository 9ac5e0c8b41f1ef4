/**
 * A remote in a plain directory (local disk or a network mount). Writes are atomic: a temp file in
 * the target's directory, fsync, rename. Conditional writes take `<key>.lock` (O_EXCL, broken
 * automatically when its process on this host is gone), compare the current content's hash with
 * the expected etag, then rename. The etag of an object is the BLAKE3 of its content.
 */
import {closeSync, copyFileSync, constants, fsyncSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync} from 'node:fs'
import {open, readFile, stat} from 'node:fs/promises'
import {dirname, join, resolve, sep} from 'node:path'
import {hash} from '../../objects/hash.js'
import {acquireLock} from '../../refs/lockFile.js'
import {VeloError, fsError, isErrno} from '../../util/errors.js'
import {atomicWrite, durable, fsyncDir, mkdirp, tempName} from '../../util/fsx.js'
import {
  preconditionFailed, type ByteRange, type GetResult, type ObjectInfo, type PutBody, type PutOptions,
  type Transport, type TransportCapabilities,
} from '../Transport.js'

/** Objects up to this size (refs, markers) get an etag; computing one hashes the content. */
const ETAG_MAX = 64 << 10

export class FileTransport implements Transport {
  readonly capabilities: TransportCapabilities = {conditionalWrite: true, rangeRead: true, connections: 4}
  readonly root: string
  readonly location: string

  constructor(root: string) {
    this.root = resolve(root)
    this.location = this.root
  }

  private path(key: string): string {
    if (key === '' || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new Error(`FileTransport: bad key ${JSON.stringify(key)}`)
    }
    return join(this.root, ...key.split('/'))
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const slash = prefix.lastIndexOf('/')
    const base = slash >= 0 ? prefix.slice(0, slash) : ''
    const out: ObjectInfo[] = []
    const walk = (dir: string, rel: string): void => {
      let names: string[]
      try {
        names = readdirSync(dir)
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return
        throw this.fail(err, rel, 'listing')
      }
      for (const n of names) {
        if (n.startsWith('.') || n.endsWith('.lock')) continue
        const key = rel ? `${rel}/${n}` : n
        if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue
        const p = join(dir, n)
        let st
        try {
          st = statSync(p)
        } catch (err) {
          if (isErrno(err, 'ENOENT')) continue
          throw this.fail(err, key, 'listing')
        }
        if (st.isDirectory()) walk(p, key)
        else if (key.startsWith(prefix)) out.push({key, size: st.size})
      }
    }
    walk(base ? this.path(base) : this.root, base)
    return out
  }

  async get(key: string, o: {range?: ByteRange} = {}): Promise<GetResult | undefined> {
    const p = this.path(key)
    try {
      if (!o.range) {
        const data = await readFile(p)
        return {data, etag: data.length <= ETAG_MAX ? etagOf(data) : undefined}
      }
      const fh = await open(p, 'r')
      try {
        const data = Buffer.allocUnsafe(o.range.length)
        let got = 0
        while (got < data.length) {
          const {bytesRead} = await fh.read(data, got, data.length - got, o.range.offset + got)
          if (bytesRead === 0) break
          got += bytesRead
        }
        if (got !== data.length) {
          throw new VeloError('ERR_VELO_CORRUPT', `${this.location}/${key} is shorter than expected (${o.range.offset + got} bytes)`, {
            hint: 'the remote object is truncated; push it again from a repository that has it',
            data: {key},
          })
        }
        return {data}
      } finally {
        await fh.close()
      }
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined
      throw this.fail(err, key, 'reading')
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const p = this.path(key)
    try {
      const st = await stat(p)
      if (!st.isFile()) return undefined
      return {key, size: st.size, etag: st.size <= ETAG_MAX ? etagOf(await readFile(p)) : undefined}
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined
      throw this.fail(err, key, 'reading')
    }
  }

  async put(key: string, body: PutBody, o: PutOptions = {}): Promise<{etag?: string}> {
    const p = this.path(key)
    mkdirp(dirname(p))
    const data = body instanceof Uint8Array ? body : undefined
    if (o.ifMatch === undefined && o.ifNoneMatch === undefined) {
      this.write(p, key, body)
      return {etag: data && data.length <= ETAG_MAX ? etagOf(data) : undefined}
    }
    const lock = acquireLock(`${p}.lock`, {command: 'push', what: `remote object ${key}: lock`})
    try {
      let cur: Buffer | undefined
      try {
        cur = readFileSync(p)
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw this.fail(err, key, 'reading')
      }
      if (o.ifNoneMatch === '*' && cur) throw preconditionFailed(this.location, key, 'it exists already')
      if (o.ifMatch !== undefined) {
        if (!cur) throw preconditionFailed(this.location, key, 'it does not exist any more')
        if (etagOf(cur) !== o.ifMatch) throw preconditionFailed(this.location, key, 'its content is not the expected one')
      }
      this.write(p, key, body)
    } finally {
      lock.release()
    }
    return {etag: data ? etagOf(data) : etagOf(readFileSync(p))}
  }

  private write(p: string, key: string, body: PutBody): void {
    if (body instanceof Uint8Array) {
      atomicWrite(p, body, {mode: 0o644})
      return
    }
    const tmp = tempName(dirname(p), 'put')
    try {
      copyFileSync(body.file, tmp, constants.COPYFILE_FICLONE)
      if (durable) {
        // copyFileSync does not fsync; reopen to make the bytes durable before the rename.
        const fd = openSync(tmp, 'r+')
        try {
          fsyncSync(fd)
        } finally {
          closeSync(fd)
        }
      }
      renameSync(tmp, p)
      fsyncDir(dirname(p))
    } catch (err) {
      try {
        unlinkSync(tmp)
      } catch {
        /* not created */
      }
      throw this.fail(err, key, 'writing')
    }
  }

  async delete(key: string): Promise<void> {
    try {
      unlinkSync(this.path(key))
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw this.fail(err, key, 'deleting')
    }
  }

  private fail(err: unknown, key: string, doing: string): unknown {
    if (err instanceof VeloError) return err
    const mapped = fsError(err, `${this.location}${sep}${key}`, doing)
    return mapped
  }
}

export function etagOf(data: Uint8Array): string {
  return hash(data).toString('hex').slice(0, 32)
}
