/**
 * Types for fuse-native@2.2.6 (none are published). Only what src/mount uses; the callback
 * conventions are the package's: an error is a negative errno (or 0), results follow it.
 */
declare module 'fuse-native' {
  namespace Fuse {
    interface Stat {
      mode: number
      uid?: number
      gid?: number
      size?: number
      dev?: number
      nlink?: number
      ino?: number
      rdev?: number
      blksize?: number
      blocks?: number
      atime?: Date | number
      mtime?: Date | number
      ctime?: Date | number
    }
    interface Statfs {
      bsize?: number
      frsize?: number
      blocks?: number
      bfree?: number
      bavail?: number
      files?: number
      ffree?: number
      favail?: number
      fsid?: number
      flag?: number
      namemax?: number
    }
    type Cb = (err: number) => void
    interface Ops {
      init?(cb: Cb): void
      statfs?(path: string, cb: (err: number, st?: Statfs) => void): void
      getattr?(path: string, cb: (err: number, st?: Stat) => void): void
      readdir?(path: string, cb: (err: number, names?: string[], stats?: Stat[]) => void): void
      readlink?(path: string, cb: (err: number, target?: string) => void): void
      open?(path: string, flags: number, cb: (err: number, fd?: number) => void): void
      create?(path: string, mode: number, cb: (err: number, fd?: number) => void): void
      read?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (bytesOrErr: number) => void): void
      write?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (bytesOrErr: number) => void): void
      release?(path: string, fd: number, cb: Cb): void
      fsync?(path: string, datasync: number, fd: number, cb: Cb): void
      truncate?(path: string, size: number, cb: Cb): void
      utimens?(path: string, atime: number, mtime: number, cb: Cb): void
      chmod?(path: string, mode: number, cb: Cb): void
      chown?(path: string, uid: number, gid: number, cb: Cb): void
      unlink?(path: string, cb: Cb): void
      rename?(src: string, dest: string, cb: Cb): void
      link?(src: string, dest: string, cb: Cb): void
      symlink?(target: string, path: string, cb: Cb): void
      mkdir?(path: string, mode: number, cb: Cb): void
      rmdir?(path: string, cb: Cb): void
    }
    interface Options {
      displayFolder?: boolean
      debug?: boolean
      force?: boolean
      mkdir?: boolean
      timeout?: number | false | Record<string, number | false>
      allowOther?: boolean
      allowRoot?: boolean
      autoUnmount?: boolean
      defaultPermissions?: boolean
      maxRead?: number
      fsname?: string
      subtype?: string
      kernelCache?: boolean
      autoCache?: boolean
      attrTimeout?: number
      entryTimeout?: number
      acAttrTimeout?: number
      noforget?: boolean
    }
  }
  class Fuse {
    constructor(mnt: string, ops: Fuse.Ops, opts?: Fuse.Options)
    readonly mnt: string
    mount(cb: (err: Error | null) => void): void
    unmount(cb: (err: Error | null) => void): void
    static unmount(mnt: string, cb: (err: Error | null) => void): void
  }
  export = Fuse
}
