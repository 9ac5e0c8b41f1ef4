/** `velo mounts` and `velo unmount`: the repository's active mounts, and unmounting one. */
import {execFile} from 'node:child_process'
import {rmSync} from 'node:fs'
import {promisify} from 'node:util'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {readAccessTrace} from '../mount/AccessTrace.js'
import {isAlive} from '../mount/Layer.js'
import {activeRecord, canonicalMountpoint, isVeloMount, listMounts as list, mountDir, mountInfo, unregisterMount, type MountRecord} from '../mount/registry.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError, isErrno} from '../util/errors.js'

const run = promisify(execFile)

export type MountListing = MountRecord

export function listMounts(repo: Repository): MountListing[] {
  return list(repo.root)
}

/**
 * The access trace of a mount, by mount id or by mount point (of an active mount): the paths of
 * the files read or written through it, in order of first access. Also after the unmount (by id).
 */
export function mountTrace(repo: Repository, idOrMountpoint: string): string[] {
  let rec: MountRecord | undefined
  if (!idOrMountpoint.includes('/')) {
    try {
      rec = JSON.parse(readFileSync(join(mountDir(repo.root, idOrMountpoint), 'mount.json'), 'utf8')) as MountRecord
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err
    }
  }
  rec ??= activeRecord(repo.root, idOrMountpoint)
  if (!rec) {
    throw new VeloError('ERR_VELO_NOT_FOUND', `no mount ${idOrMountpoint} in this repository`, {hint: 'velo mounts lists the active ones; ids are the directory names under <repo>/mounts'})
  }
  return readAccessTrace(rec.trace)
}

export interface UnmountOptions {
  /** Detach even when busy (lazy unmount): processes using it keep their files until they close them. */
  force?: boolean
  /** Also delete the mount's upper layer (its changes) and its directory in the repository. */
  discard?: boolean
  /** How long to wait for the serving process to finish (ms). */
  waitMs?: number
}

export interface UnmountResult {
  mountpoint: string
  id: string | null
  snapshot: string | null
  upper: string | null
  discarded: boolean
}

/** Unmounts the kernel mount: fusermount (or umount, as root without it); lazy detaches even a busy one. */
async function detachKernelMount(mnt: string, lazy: boolean): Promise<void> {
  const attempt = async (cmd: string, args: string[]): Promise<(NodeJS.ErrnoException & {stderr?: string}) | undefined> => {
    try {
      await run(cmd, args)
      return undefined
    } catch (err) {
      return err as NodeJS.ErrnoException & {stderr?: string}
    }
  }
  let e = await attempt('fusermount', [lazy ? '-uz' : '-u', mnt])
  if (e?.code === 'ENOENT' && process.getuid?.() === 0) e = await attempt('umount', lazy ? ['-l', mnt] : [mnt])
  if (!e) return
  if (e.code === 'ENOENT') throw new VeloError('ERR_VELO_MOUNT_UNAVAILABLE', 'fusermount is not installed', {hint: 'apt-get install fuse3'})
  if (/busy/i.test(e.stderr ?? '')) throw busy(mnt)
  if (!mountInfo(mnt)) return // gone meanwhile
  throw new VeloError('ERR_VELO_MOUNT', `could not unmount ${mnt}: ${(e.stderr || e.message).trim().split('\n')[0]}`, {
    hint: `velo unmount --force ${mnt} detaches it anyway`,
  })
}

function busy(mnt: string): VeloError {
  return new VeloError('ERR_VELO_MOUNT_BUSY', `${mnt} is busy: a process has a file open or its working directory in it`, {
    hint: `close them (fuser -vm ${mnt} lists them) and try again, or detach it now with velo unmount --force ${mnt}`,
  })
}

async function waitExit(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (!isAlive(pid)) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return !isAlive(pid)
}

/**
 * Unmounts MNT: the kernel mount first (refused while busy, unless force), then the serving
 * process writes what it holds in memory (the access trace) and exits; returns once it has.
 */
export async function unmount(repo: Repository, path: string, o: UnmountOptions = {}): Promise<UnmountResult> {
  const mnt = canonicalMountpoint(path)
  const rec = activeRecord(repo.root, mnt)
  const info = mountInfo(mnt)
  if (!rec && !isVeloMount(info)) {
    throw new VeloError('ERR_VELO_MOUNT', `${mnt} is not a velo mount${info ? ` (it is ${info.fstype})` : ''}`, {hint: 'velo mounts lists the mounts of this repository'})
  }
  if (info) await detachKernelMount(mnt, Boolean(o.force))
  if (rec) {
    if (isAlive(rec.pid)) {
      try {
        process.kill(rec.pid, 'SIGTERM')
      } catch {
        // exited meanwhile
      }
      if (!(await waitExit(rec.pid, o.waitMs ?? 10_000))) {
        try {
          process.kill(rec.pid, 'SIGKILL')
        } catch {
          // exited meanwhile
        }
        await waitExit(rec.pid, 2000)
      }
    }
    // A server that died (or was killed) could not clean up after itself.
    if (activeRecord(repo.root, mnt)?.id === rec.id) unregisterMount(repo.root, rec)
  }
  let discarded = false
  if (o.discard && rec) {
    if (rec.upper) rmSync(rec.upper, {recursive: true, force: true})
    rmSync(mountDir(repo.root, rec.id), {recursive: true, force: true})
    discarded = true
  }
  return {mountpoint: mnt, id: rec?.id ?? null, snapshot: rec?.snapshot ?? null, upper: rec?.upper ?? null, discarded}
}
