/**
 * The only file that imports fuse-native (loaded lazily: it needs Debian's libfuse2 at load time).
 * Turns a failure to load into one clear VeloError, and mounts an ops table with the options that
 * suit velo's overlay: long entry/attr/negative timeouts, kernel page cache kept across opens,
 * large reads and writes, permissions checked by the kernel.
 */
import type FuseType from 'fuse-native'
import {VeloError} from '../../util/errors.js'

export type FuseOps = FuseType.Ops
export type FuseStat = FuseType.Stat

export interface FuseMountOptions {
  readOnly?: boolean
  /** Seconds the kernel may cache names, attributes and negative lookups. */
  cacheSeconds?: number
  /** Milliseconds one operation may take before the kernel gets ETIMEDOUT. */
  opTimeoutMs?: number
  debug?: boolean
}

export interface FuseSession {
  readonly mountpoint: string
  /** Detaches the mount (fusermount -uz) and releases the native session. */
  unmount(): Promise<void>
}

let loaded: typeof FuseType | undefined

export const INSTALL_HINT = 'install FUSE: apt-get install libfuse2 fuse3 (Debian/Ubuntu), then run the command again'

/** Loads fuse-native, or throws ERR_VELO_MOUNT_UNAVAILABLE saying what is missing. */
export async function loadFuse(): Promise<typeof FuseType> {
  if (loaded) return loaded
  try {
    const mod = (await import('fuse-native')) as unknown as {default?: typeof FuseType}
    loaded = (mod.default ?? mod) as typeof FuseType
    return loaded
  } catch (err) {
    const msg = (err as Error).message ?? String(err)
    if (/libfuse\.so/.test(msg)) {
      throw new VeloError('ERR_VELO_MOUNT_UNAVAILABLE', 'FUSE is not usable: libfuse.so.2 is not installed', {hint: INSTALL_HINT, cause: err})
    }
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(msg)) {
      throw new VeloError('ERR_VELO_MOUNT_UNAVAILABLE', 'FUSE is not usable: the fuse-native package is missing from this velo installation', {
        hint: 'reinstall velo with its dependencies (npm install), then run the command again',
        cause: err,
      })
    }
    throw new VeloError('ERR_VELO_MOUNT_UNAVAILABLE', `FUSE is not usable: ${msg.split('\n')[0]}`, {hint: INSTALL_HINT, cause: err})
  }
}

/**
 * fuse-native passes only a fixed set of -o options; libfuse2 options it does not know about
 * (big_writes, negative_timeout, max_readahead, ro) are appended to fsname, which fuse-native
 * copies verbatim into the option string.
 */
export function fuseOptions(o: FuseMountOptions): FuseType.Options {
  const ttl = o.cacheSeconds ?? 86400
  // noatime: otherwise every read marks the inode's attributes stale and the next stat asks velo again.
  const extra = [`negative_timeout=${ttl}`, 'big_writes', 'max_write=1048576', 'max_readahead=1048576', 'noatime']
  if (o.readOnly) extra.push('ro')
  return {
    fsname: ['velo', ...extra].join(','),
    subtype: 'velo',
    kernelCache: true,
    attrTimeout: ttl,
    entryTimeout: ttl,
    maxRead: 1 << 20,
    defaultPermissions: true,
    // No auto_unmount: it makes libfuse spawn fusermount even as root (3x the mount time) and
    // does not work for other users here; velo mounts / velo unmount --force detach orphans.
    timeout: o.opTimeoutMs ?? 10 * 60_000,
    debug: o.debug,
  }
}

export async function mountFuse(mountpoint: string, ops: FuseOps, o: FuseMountOptions = {}): Promise<FuseSession> {
  const Fuse = await loadFuse()
  const fuse = new Fuse(mountpoint, ops, fuseOptions(o))
  await new Promise<void>((resolve, reject) => {
    fuse.mount((err) => (err ? reject(err) : resolve()))
  })
  let done: Promise<void> | undefined
  return {
    mountpoint: fuse.mnt,
    unmount: () =>
      (done ??= new Promise<void>((resolve) => {
        // Errors here mean the mount is already gone (unmounted from outside): nothing left to do.
        fuse.unmount(() => resolve())
      })),
  }
}
