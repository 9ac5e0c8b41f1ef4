/**
 * The copy-on-write upper layer of a mount, on disk (docs/format.md, "Mounts"):
 *
 *   <layer>/layer.json   {"format":"velo-layer","version":1,"snapshot":ID,"created":ISO,"lastSnapshot"?:ID}
 *   <layer>/root/        the changed part of the tree, at the same paths as in the mount, plus markers:
 *                          .wh.NAME            whiteout: NAME of the lower layer is deleted here
 *                          .wh..wh..opq        this directory is opaque: nothing of the lower layer shows in it
 *                          .wh..wh..redirect   (contents: a lower path) this directory's lower entries are
 *                                              those of that lower directory (it was renamed from there)
 *   <layer>/tmp/         files being copied up (renamed into root/ when complete)
 *   <layer>/lock         {"pid":N,"mountpoint":PATH} while a mount serves this layer
 *
 * The in-memory image of root/ (UpperDir) is what the overlay consults; every change is written to
 * disk by the operation that makes it, so a remount of the same layer continues where it left off.
 */
import {closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, unlinkSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import type {Oid} from '../objects/oid.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {atomicWrite} from '../util/fsx.js'

export const LAYER_FILE = 'layer.json'
export const WH_PREFIX = '.wh.'
export const OPAQUE_MARKER = '.wh..wh..opq'
export const REDIRECT_MARKER = '.wh..wh..redirect'

export interface LayerInfo {
  format: 'velo-layer'
  version: 1
  /** The snapshot this layer was made on (the lower layer). */
  snapshot: Oid
  created: string
  /** The last snapshot taken of a mount of this layer (the next one's parent). */
  lastSnapshot?: Oid
}

export type UpperChild = 'f' | 'l' | UpperDir

/** One directory of the upper layer: its real entries, whiteouts and flags. */
export class UpperDir {
  readonly names = new Map<string, UpperChild>()
  readonly whiteouts = new Set<string>()
  opaque = false
  /** Lower path ('' = root) whose entries show in this directory, after a rename. */
  redirect: string | undefined
}

export function isMarkerName(name: string): boolean {
  return name.startsWith(WH_PREFIX)
}

export interface LayerLock {
  release(): void
}

export class Layer {
  private constructor(
    readonly dir: string,
    public info: LayerInfo,
  ) {}

  get root(): string {
    return join(this.dir, 'root')
  }
  get tmp(): string {
    return join(this.dir, 'tmp')
  }

  /**
   * Opens the layer in `dir`, creating it (for snapshot `snapshot`) when `dir` is missing or empty.
   * A layer made on another snapshot, or a non-empty directory that is not a layer, is refused.
   */
  static open(dir: string, snapshot: Oid): Layer {
    let info = readLayerInfo(dir)
    if (!info) {
      let entries: string[] = []
      try {
        entries = readdirSync(dir)
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw fsError(err, dir, 'reading')
      }
      if (entries.length > 0) {
        throw new VeloError('ERR_VELO_USAGE', `${dir} is not empty and is not a velo upper layer`, {
          hint: 'pass --upper a new or empty directory, or one a previous velo checkout used',
        })
      }
      info = {format: 'velo-layer', version: 1, snapshot, created: new Date().toISOString()}
      try {
        mkdirSync(join(dir, 'root'), {recursive: true, mode: 0o755})
        mkdirSync(join(dir, 'tmp'), {recursive: true, mode: 0o700})
      } catch (err) {
        throw fsError(err, dir, 'creating')
      }
      // No fsync: a layer lost in a crash before anything was written to it holds nothing.
      atomicWrite(join(dir, LAYER_FILE), JSON.stringify(info, null, 2) + '\n', {sync: false})
    } else if (info.snapshot !== snapshot) {
      throw new VeloError('ERR_VELO_USAGE', `the upper layer ${dir} belongs to snapshot ${info.snapshot.slice(0, 12)}, not ${snapshot.slice(0, 12)}`, {
        hint: `mount ${info.snapshot.slice(0, 12)} with this upper, or use a new --upper directory`,
        data: {layerSnapshot: info.snapshot},
      })
    }
    return new Layer(dir, info)
  }

  writeInfo(): void {
    writeLayerInfo(this.dir, this.info)
  }

  /** Removes copy-ups a previous server left unfinished (call with the lock held). */
  private cleanTmp(): void {
    try {
      mkdirSync(this.tmp, {recursive: true, mode: 0o700})
      for (const f of readdirSync(this.tmp)) rmSync(join(this.tmp, f), {recursive: true, force: true})
    } catch (err) {
      throw fsError(err, this.tmp, 'cleaning')
    }
  }

  /** Takes the layer's lock for a mount; a lock held by a live process is refused. */
  lock(mountpoint: string): LayerLock {
    const path = join(this.dir, 'lock')
    const body = JSON.stringify({pid: process.pid, mountpoint}) + '\n'
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644)
        writeSync(fd, body)
        closeSync(fd)
        this.cleanTmp()
        return {
          release: () => {
            try {
              unlinkSync(path)
            } catch {
              /* already gone */
            }
          },
        }
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw fsError(err, path, 'creating')
      }
      let holder: {pid?: number; mountpoint?: string} = {}
      try {
        holder = JSON.parse(readFileSync(path, 'utf8'))
      } catch {
        /* unreadable or half-written: treat as stale */
      }
      if (typeof holder.pid === 'number' && isAlive(holder.pid)) {
        throw new VeloError('ERR_VELO_LOCKED', `the upper layer ${this.dir} is in use by the mount at ${holder.mountpoint ?? '?'} (pid ${holder.pid})`, {
          hint: `unmount it first (velo unmount ${holder.mountpoint ?? 'MNT'}), or use another --upper directory`,
          data: {pid: holder.pid, mountpoint: holder.mountpoint},
        })
      }
      rmSync(path, {force: true})
    }
    throw new VeloError('ERR_VELO_LOCKED', `cannot lock the upper layer ${this.dir}`, {hint: 'run the command again'})
  }

  /** Reads root/ into memory. */
  scan(): UpperDir {
    const walk = (abs: string): UpperDir => {
      const d = new UpperDir()
      for (const ent of readdirSync(abs, {withFileTypes: true})) {
        const name = ent.name
        if (name === OPAQUE_MARKER) d.opaque = true
        else if (name === REDIRECT_MARKER) d.redirect = readFileSync(join(abs, name), 'utf8')
        else if (isMarkerName(name)) d.whiteouts.add(name.slice(WH_PREFIX.length))
        else if (ent.isDirectory()) d.names.set(name, walk(join(abs, name)))
        else if (ent.isSymbolicLink()) d.names.set(name, 'l')
        else if (ent.isFile()) d.names.set(name, 'f')
        // Other kinds (FIFOs, sockets, devices) are never created by the overlay: ignored.
      }
      // A name both present and whited out cannot be produced by the overlay; the entry wins.
      for (const n of d.names.keys()) d.whiteouts.delete(n)
      return d
    }
    try {
      lstatSync(this.root)
    } catch (err) {
      if (isErrno(err, 'ENOENT')) mkdirSync(this.root, {recursive: true, mode: 0o755})
      else throw fsError(err, this.root, 'reading')
    }
    return walk(this.root)
  }
}

export function readLayerInfo(dir: string): LayerInfo | undefined {
  let text: string
  try {
    text = readFileSync(join(dir, LAYER_FILE), 'utf8')
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined
    throw fsError(err, dir, 'reading')
  }
  const info = JSON.parse(text) as LayerInfo
  if (info.format !== 'velo-layer' || info.version !== 1) {
    throw new VeloError('ERR_VELO_USAGE', `${dir} holds an upper layer of an unsupported format`, {hint: 'upgrade velo'})
  }
  return info
}

export function writeLayerInfo(dir: string, info: LayerInfo): void {
  atomicWrite(join(dir, LAYER_FILE), JSON.stringify(info, null, 2) + '\n')
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return isErrno(err, 'EPERM')
  }
}
