/**
 * Mounts a snapshot and serves it in this process until it is unmounted: checks the mount point
 * and FUSE, opens (or creates) the upper layer, mounts, registers the mount in the repository, and
 * stops cleanly when the mount disappears (velo unmount, fusermount -u) or on stop().
 */
import {accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, statSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {join, relative, resolve, sep} from 'node:path'
import type {Oid} from '../objects/oid.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError, isErrno} from '../util/errors.js'
import {AccessTrace, TRACE_FILE} from './AccessTrace.js'
import {INSTALL_HINT, loadFuse, mountFuse, type FuseOps, type FuseSession} from './fuse/fuseNative.js'
import {createFuseOps} from './fuseOps.js'
import {Layer, type LayerLock} from './Layer.js'
import {LowerContent} from './LowerContent.js'
import {LowerTree} from './LowerTree.js'
import {CONTROL_SOCKET, listenControl} from './mountControl.js'
import {prepareMountRemote} from './mountRemote.js'
import type {OnTransferProgress} from '../remote/progress.js'
import {Overlay} from './Overlay.js'
import {canonicalMountpoint, isVeloMount, mountDir, mountInfo, newMountId, parseMountinfo, registerMount, unregisterMount, type MountRecord} from './registry.js'

export interface ServeOptions {
  rev: string
  mountpoint: string
  /** Upper layer directory (default: the mount's directory in the repository). */
  upper?: string
  readOnly?: boolean
  /** Id of the mount (its directory under <repo>/mounts); made up when absent. */
  id?: string
  log?: (msg: string) => void
  /** How often to check that the mount still exists (ms). */
  pollMs?: number
  /** Fetch missing content from this remote (lazy checkout; see mountRemote.ts for the default). */
  remote?: string
  /** Progress of the metadata pull of a remote checkout (relayed to the launcher). */
  onProgress?: OnTransferProgress
}

export interface MountServer {
  record: MountRecord
  overlay: Overlay
  /** Resolves when the mount is gone and everything is flushed. */
  closed: Promise<void>
  /** Flushes, unmounts (lazily, if still mounted) and closes. */
  stop(): Promise<void>
}

function inside(child: string, parent: string): boolean {
  const r = relative(parent, child)
  return r === '' || (!r.startsWith('..') && !r.startsWith(sep) && r !== '..')
}

/** Checks that `mnt` can be mounted on: an existing empty directory that is not a mount point. */
export function checkMountpoint(mnt: string): void {
  let st
  try {
    st = statSync(mnt)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new VeloError('ERR_VELO_NOT_FOUND', `mount point ${mnt} does not exist`, {hint: `create it first: mkdir -p ${mnt}`})
    if (isErrno(err, 'ENOTCONN')) {
      throw new VeloError('ERR_VELO_MOUNT', `${mnt} is a mount whose server is gone`, {hint: `detach it: velo unmount --force ${mnt}`})
    }
    throw err
  }
  if (!st.isDirectory()) throw new VeloError('ERR_VELO_USAGE', `mount point ${mnt} is not a directory`, {hint: 'mount on an empty directory'})
  const m = mountInfo(mnt)
  if (m) {
    throw new VeloError('ERR_VELO_MOUNT', `${mnt} is already mounted${isVeloMount(m) ? ' (a velo mount)' : ` (${m.fstype})`}`, {
      hint: isVeloMount(m) ? `unmount it first: velo unmount ${mnt}` : 'choose another mount point',
    })
  }
  if (readdirSync(mnt).length > 0) {
    throw new VeloError('ERR_VELO_TARGET_NOT_EMPTY', `mount point ${mnt} is not empty`, {hint: 'mount on an empty directory'})
  }
}

/** Checks what FUSE needs before libfuse prints its own messages: /dev/fuse, and for users fusermount. */
export function checkFuseDevice(): void {
  if (!existsSync('/dev/fuse')) {
    throw new VeloError('ERR_VELO_MOUNT_UNAVAILABLE', 'FUSE is not usable: /dev/fuse does not exist', {
      hint: 'load the kernel module (modprobe fuse); in a container, start it with --device /dev/fuse',
    })
  }
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK)
  } catch {
    throw new VeloError('ERR_VELO_MOUNT_UNAVAILABLE', 'FUSE is not usable: no permission to open /dev/fuse', {
      hint: 'as root: chmod 0666 /dev/fuse (the mode udev gives it on Debian), or add this user to the group that owns it',
    })
  }
  if (process.getuid?.() !== 0) {
    const found = (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d && existsSync(join(d, 'fusermount')))
    if (!found) throw new VeloError('ERR_VELO_MOUNT_UNAVAILABLE', 'FUSE is not usable: fusermount is not installed', {hint: INSTALL_HINT})
  }
}

export async function serveMount(repo: Repository, o: ServeOptions): Promise<MountServer> {
  const log = o.log ?? (() => undefined)
  // Lazy checkout: which remote serves missing content; a remote ref's metadata is pulled first.
  const lazy = await prepareMountRemote(repo, o.rev, {remote: o.remote, log, onProgress: o.onProgress})
  const resolved = repo.resolve(o.rev)
  if (repo.packs.typeOf(resolved) === undefined) {
    throw new VeloError('ERR_VELO_CORRUPT', `snapshot ${resolved.slice(0, 12)} (${o.rev}) is missing from the repository's packs`, {
      hint: 'run velo fsck; if a remote has it, velo pull it',
    })
  }
  const snapshotId: Oid = repo.resolveSnapshot(o.rev)
  const snap = repo.readSnapshot(snapshotId)
  const mnt = canonicalMountpoint(o.mountpoint)
  checkMountpoint(mnt)
  checkFuseDevice()
  await loadFuse()
  const id = o.id ?? newMountId()
  const dir = mountDir(repo.root, id)
  mkdirSync(dir, {recursive: true})
  const readOnly = Boolean(o.readOnly)
  const layerDir = o.upper !== undefined ? resolve(o.upper) : readOnly ? undefined : join(dir, 'upper')
  if (layerDir && (inside(layerDir, mnt) || inside(mnt, layerDir))) {
    throw new VeloError('ERR_VELO_USAGE', `the upper layer ${layerDir} and the mount point ${mnt} must not contain each other`, {
      hint: 'choose an upper directory outside the mount point',
    })
  }
  // Reading the root tree now makes a repository without the snapshot's objects fail here.
  const lower = new LowerTree(snap.tree, (t) => repo.readTree(t))
  lower.entries(snap.tree)
  let layer: Layer | undefined
  let lock: LayerLock | undefined
  if (layerDir) {
    layer = Layer.open(layerDir, snapshotId)
    lock = layer.lock(mnt)
  }
  const trace = new AccessTrace(join(dir, TRACE_FILE))
  const content = new LowerContent(repo.packs)
  const remoteContent = lazy ? new (await import('./RemoteContent.js')).RemoteContent(repo, {remote: lazy.remote, dir, log}) : undefined
  content.fetcher = remoteContent
  let overlay: Overlay
  let session: FuseSession
  try {
    overlay = new Overlay({
      lower,
      content,
      layer,
      readOnly,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      time: snap.time,
      onAccess: (p) => trace.record(p),
    })
    const ops = createFuseOps(overlay, {log})
    session = await mountFuse(mnt, ops as unknown as FuseOps, {readOnly})
  } catch (err) {
    lock?.release()
    if (err instanceof VeloError) throw err
    throw new VeloError('ERR_VELO_MOUNT', `mounting ${mnt} failed: ${(err as Error).message}`, {
      hint: `see the log; check that FUSE works (${INSTALL_HINT})`,
      cause: err,
    })
  }
  const info = mountInfo(mnt)
  const record: MountRecord = {
    id,
    snapshot: snapshotId,
    rev: o.rev,
    mountpoint: mnt,
    upper: layerDir ?? null,
    readOnly,
    pid: process.pid,
    since: new Date().toISOString(),
    log: join(dir, 'serve.log'),
    trace: trace.file,
    ...(lazy ? {remote: lazy.remote} : {}),
  }
  // velo snapshot MNT asks this process (mountControl.ts): its indexes and trees are loaded.
  const control = await listenControl(join(dir, CONTROL_SOCKET), repo, record, log)
  try {
    registerMount(repo.root, record)
  } catch (err) {
    // Never leave a mount behind that nobody knows about.
    control?.close()
    await session.unmount()
    overlay.close()
    lock?.release()
    throw err
  }
  log(`mounted ${snapshotId} at ${mnt} (upper ${layerDir ?? 'none'}${readOnly ? ', read-only' : ''}; ready ${Math.round(performance.now())} ms after this process started)`)
  remoteContent?.startPrefetch(snapshotId, lower, id)

  let stopping: Promise<void> | undefined
  let resolveClosed!: () => void
  const closed = new Promise<void>((r) => (resolveClosed = r))
  const finish = async (stillMounted: boolean): Promise<void> => {
    clearInterval(poll)
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn()
      } catch (err) {
        log(`${what}: ${(err as Error).message}`)
      }
    }
    await step('could not write the access trace', () => trace.flush())
    // Already gone when velo unmount (fusermount -u) came first: then there is nothing to detach.
    if (stillMounted) await step('could not unmount', () => (mountInfo(mnt) ? session.unmount() : undefined))
    await step('could not stop fetching', () => remoteContent?.close())
    await step('could not close the upper layer', () => overlay.close())
    await step('could not release the upper layer', () => lock?.release())
    await step('could not close the control socket', () => control?.close())
    await step('could not unregister the mount', () => unregisterMount(repo.root, record))
    log(`unmounted ${mnt}`)
    resolveClosed()
  }
  const stop = (stillMounted: boolean): Promise<void> => (stopping ??= finish(stillMounted))
  // fuse-native does not report an unmount from outside: watch the mount table.
  // A mount table read in several pieces while other mounts come and go can miss a line: the mount
  // counts as gone only when two reads in a row lack it.
  let misses = 0
  const poll = setInterval(() => {
    readFile('/proc/self/mountinfo', 'utf8').then(
      (text) => {
        const now = parseMountinfo(text).some((l) => l.mountpoint === mnt && (!info || l.mountId === info.mountId))
        misses = now ? 0 : misses + 1
        if (misses >= 2) void stop(false)
      },
      () => undefined,
    )
  }, o.pollMs ?? 500)
  return {record, overlay, closed, stop: () => stop(true)}
}

/** Reads a mount's record from its directory (also after it ended). */
export function readMountRecord(repoRoot: string, id: string): MountRecord {
  return JSON.parse(readFileSync(join(mountDir(repoRoot, id), 'mount.json'), 'utf8')) as MountRecord
}
