/**
 * The FUSE operations table of a mount: fuse-native's callback conventions (paths with a leading
 * '/', results as `cb(0, value)` or `cb(-errno)`, read/write as `cb(bytes)`) over an Overlay.
 * Plain data, callable without the kernel: unit tests drive it directly.
 *
 * open, release, opendir, releasedir and flush are deliberately absent: libfuse then answers them
 * itself, so opening a cached lower file costs no round trip through JavaScript.
 */
import type {Attr, Overlay} from './Overlay.js'
import {FsError, toNegErrno} from './FsError.js'

/** The subset of fuse-native's Ops that velo implements (structurally compatible with it). */
export interface OverlayOps {
  getattr(path: string, cb: (err: number, st?: Attr) => void): void
  readdir(path: string, cb: (err: number, names?: string[], stats?: {mode: number}[]) => void): void
  readlink(path: string, cb: (err: number, target?: string) => void): void
  read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void): void
  statfs(path: string, cb: (err: number, st?: ReturnType<Overlay['statfs']>) => void): void
  write(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void): void
  create(path: string, mode: number, cb: (err: number, fd?: number) => void): void
  mkdir(path: string, mode: number, cb: (err: number) => void): void
  symlink(target: string, path: string, cb: (err: number) => void): void
  link(src: string, dest: string, cb: (err: number) => void): void
  unlink(path: string, cb: (err: number) => void): void
  rmdir(path: string, cb: (err: number) => void): void
  rename(src: string, dest: string, cb: (err: number) => void): void
  chmod(path: string, mode: number, cb: (err: number) => void): void
  chown(path: string, uid: number, gid: number, cb: (err: number) => void): void
  truncate(path: string, size: number, cb: (err: number) => void): void
  utimens(path: string, atime: number, mtime: number, cb: (err: number) => void): void
  fsync(path: string, datasync: number, fd: number, cb: (err: number) => void): void
}

export interface OpsOptions {
  /** Where unexpected failures (not plain errno results) are reported. */
  log?: (msg: string) => void
}

const rel = (p: string): string => (p.length <= 1 ? '' : p.slice(1))
const DOT = [{mode: 0o040000}, {mode: 0o040000}]

export function createFuseOps(ov: Overlay, o: OpsOptions = {}): OverlayOps {
  const fail = (op: string, path: string, err: unknown): number => {
    const code = toNegErrno(err)
    if (!(err instanceof FsError) && !(err as NodeJS.ErrnoException)?.code) {
      o.log?.(`${op} ${path}: ${(err as Error)?.stack ?? String(err)}`)
    } else if (!(err instanceof FsError) && code === -5) {
      o.log?.(`${op} ${path}: ${(err as Error).message}`)
    }
    return code
  }
  const run = (op: string, path: string, fn: () => void | Promise<void>, cb: (err: number) => void): void => {
    try {
      const r = fn()
      if (r) r.then(() => cb(0), (err) => cb(fail(op, path, err)))
      else cb(0)
    } catch (err) {
      cb(fail(op, path, err))
    }
  }
  const count = (op: string, path: string, fn: () => number | Promise<number>, cb: (n: number) => void): void => {
    try {
      const r = fn()
      if (typeof r === 'number') cb(r)
      else r.then(cb, (err) => cb(fail(op, path, err)))
    } catch (err) {
      cb(fail(op, path, err))
    }
  }
  return {
    getattr(path, cb) {
      let st: Attr
      try {
        st = ov.getattr(rel(path))
      } catch (err) {
        return cb(fail('getattr', path, err))
      }
      cb(0, st)
    },
    readdir(path, cb) {
      let r: {names: string[]; modes: number[]}
      try {
        r = ov.readdir(rel(path))
      } catch (err) {
        return cb(fail('readdir', path, err))
      }
      cb(0, ['.', '..', ...r.names], [...DOT, ...r.modes.map((mode) => ({mode}))])
    },
    readlink(path, cb) {
      let t: string
      try {
        t = ov.readlink(rel(path))
      } catch (err) {
        return cb(fail('readlink', path, err))
      }
      cb(0, t)
    },
    read(path, _fd, buf, len, pos, cb) {
      count('read', path, () => ov.read(rel(path), buf, len, pos), cb)
    },
    statfs(_path, cb) {
      let s
      try {
        s = ov.statfs()
      } catch (err) {
        return cb(fail('statfs', '/', err))
      }
      cb(0, s)
    },
    write(path, _fd, buf, len, pos, cb) {
      count('write', path, () => ov.write(rel(path), buf, len, pos), cb)
    },
    create(path, mode, cb) {
      run('create', path, () => ov.create(rel(path), mode), cb)
    },
    mkdir(path, mode, cb) {
      run('mkdir', path, () => ov.mkdir(rel(path), mode), cb)
    },
    symlink(target, path, cb) {
      run('symlink', path, () => ov.symlink(target, rel(path)), cb)
    },
    link(src, dest, cb) {
      run('link', dest, () => ov.link(rel(src), rel(dest)), cb)
    },
    unlink(path, cb) {
      run('unlink', path, () => ov.unlink(rel(path)), cb)
    },
    rmdir(path, cb) {
      run('rmdir', path, () => ov.rmdir(rel(path)), cb)
    },
    rename(src, dest, cb) {
      run('rename', src, () => ov.rename(rel(src), rel(dest)), cb)
    },
    chmod(path, mode, cb) {
      run('chmod', path, () => ov.chmod(rel(path), mode), cb)
    },
    chown(_path, _uid, _gid, cb) {
      // Ownership is not recorded (every entry belongs to the mounting user); the kernel has
      // already checked that the caller may do this.
      cb(0)
    },
    truncate(path, size, cb) {
      run('truncate', path, () => ov.truncate(rel(path), size), cb)
    },
    utimens(path, atime, mtime, cb) {
      run('utimens', path, () => ov.utimens(rel(path), atime, mtime), cb)
    },
    fsync(path, _datasync, _fd, cb) {
      run('fsync', path, () => ov.fsync(rel(path)), cb)
    },
  }
}
