/**
 * Where a recorded command runs: a fresh copy-on-write velo mount of the input snapshot, served by
 * this process (its access trace is the run's trace; the output snapshot is built from the mount's
 * upper layer, reading only what changed; when nothing changed, the output is the input snapshot
 * itself), or a temporary directory the input is restored into
 * (`--materialize`, for machines without FUSE: no trace; a stat cache primed from the restore lets
 * the output snapshot read only what changed).
 * Either way nothing of it outlives the run: the mount, its upper layer and the temporary
 * directory are removed by dispose() (a big restored tree by a background `rm -rf`).
 */
import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {SnapshotResult} from '../api/snapshot.js'
import type {MountServer} from '../mount/serveMount.js'
import type {Oid} from '../objects/oid.js'
import type {Repository} from '../repo/Repository.js'
import {withRepoLock} from '../repo/RepoLock.js'
import {statCacheName} from '../snapshot/refNameFor.js'
import {VeloError, isErrno} from '../util/errors.js'

export type WorkspaceMode = 'mount' | 'materialize'

export interface WorkspaceResult {
  output: SnapshotResult
  /** Files read or written, in first-access order; null without a mount. */
  trace: string[] | null
}

export interface Workspace {
  mode: WorkspaceMode
  /** Absolute path of the checkout's root. */
  root: string
  /**
   * True when the mount is served by this process: the command must change into its directory
   * after exec (a spawn with cwd inside the mount would deadlock: the parent blocks in spawn while
   * the child's chdir waits for the parent to answer FUSE).
   */
  chdirAfterExec: boolean
  /** Records the tree as it is now (its parent: the input), then takes everything down. */
  finish(o?: {onWarning?: (m: string) => void}): Promise<WorkspaceResult>
  /** Takes everything down without recording (idempotent). */
  dispose(): Promise<void>
}

export interface OpenWorkspaceOptions {
  input: Oid
  /** 'auto': a mount, or a restored directory (with a warning) when FUSE is not usable. */
  mode: WorkspaceMode | 'auto'
  onWarning?: (m: string) => void
}

export async function openWorkspace(repo: Repository, o: OpenWorkspaceOptions): Promise<Workspace> {
  if (o.mode === 'materialize') return materialized(repo, o.input)
  try {
    return await mounted(repo, o.input)
  } catch (err) {
    // No FUSE here (or mounting is not allowed, as in unprivileged containers): say so and restore.
    if (o.mode === 'auto' && err instanceof VeloError && (err.code === 'ERR_VELO_MOUNT_UNAVAILABLE' || err.code === 'ERR_VELO_MOUNT')) {
      o.onWarning?.(`${err.message}: running in a restored temporary directory instead (as --materialize; slower, and no access trace is recorded)`)
      return materialized(repo, o.input)
    }
    throw err
  }
}

function tempBase(): string {
  return mkdtempSync(join(tmpdir(), 'velo-run-'))
}

async function mounted(repo: Repository, input: Oid): Promise<Workspace> {
  const [{serveMount}, {mountDir, mountInfo, detach, newMountId}, {readAccessTrace}] = await Promise.all([
    import('../mount/serveMount.js'),
    import('../mount/registry.js'),
    import('../mount/AccessTrace.js'),
  ])
  const base = tempBase()
  const mnt = join(base, 'root')
  mkdirSync(mnt)
  const id = newMountId()
  let server: MountServer
  try {
    server = await serveMount(repo, {rev: input, mountpoint: mnt, id})
  } catch (err) {
    rmSync(mountDir(repo.root, id), {recursive: true, force: true})
    rmSync(base, {recursive: true, force: true})
    throw err
  }
  const root = server.record.mountpoint
  let disposed: Promise<void> | undefined
  const dispose = (): Promise<void> =>
    (disposed ??= (async () => {
      await server.stop()
      // A process outside the command's group may still hold it: detach lazily.
      if (mountInfo(root)) detach(root)
      rmSync(mountDir(repo.root, server.record.id), {recursive: true, force: true})
      rmSync(base, {recursive: true, force: true})
    })())
  return {
    mode: 'mount',
    root,
    chdirAfterExec: true,
    async finish(f = {}) {
      let output: SnapshotResult
      // The command is gone: the mount can go while its upper layer (on disk) is recorded.
      const stopping = server.stop() // also flushes the trace
      try {
        const upperRoot = server.record.upper ? join(server.record.upper, 'root') : undefined
        // Nothing written, created, deleted or renamed (an empty upper layer once the mount is
        // down, so that nothing can write any more): the output is the input snapshot itself.
        const unchanged = upperRoot !== undefined && isEmptyDir(upperRoot) && (await stopping, isEmptyDir(upperRoot))
        if (unchanged) output = unchangedOutput(repo, input, root, server.record.upper)
        else {
          const {snapshotMount} = await import('../mount/snapshotMount.js')
          output = await withRepoLock(repo, 'shared', 'run', () => snapshotMount(repo, server.record, {dir: root, noRef: true, command: 'run', onWarning: f.onWarning}), {onWarning: f.onWarning})
          await stopping
        }
      } catch (err) {
        await dispose()
        throw err
      }
      const trace = readAccessTrace(server.record.trace)
      await dispose()
      return {output, trace}
    },
    dispose,
  }
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return true
    throw err
  }
}

/** The output of a run that changed nothing: the input snapshot (no walk, no new object). */
function unchangedOutput(repo: Repository, input: Oid, mountpoint: string, upper: string | null): SnapshotResult {
  const snap = repo.readSnapshot(input)
  let bytes: number | undefined
  return {
    id: input, ref: null, tree: snap.tree, parent: snap.parents[0] ?? null, files: 0, dirs: 0, symlinks: 0,
    // Read only if asked (velo run does not): the root tree of a big input takes a while to decode.
    get bytes(): number {
      if (bytes === undefined) {
        bytes = 0
        for (const e of repo.readTree(snap.tree)) if (e.kind !== 'symlink') bytes += e.size
      }
      return bytes
    },
    hashedFiles: 0, hashedBytes: 0, newObjects: 0, newBytes: 0, storedBytes: 0, skipped: [],
    mount: {mountpoint, snapshot: input, upper},
  }
}

/**
 * Removes a restored tree without making the run wait: deleting tens of thousands of files takes
 * seconds (minutes on a busy disk), so a detached `rm -rf` does it after velo has exited.
 */
function removeInBackground(dir: string): void {
  try {
    const child = spawn('rm', ['-rf', '--', dir], {detached: true, stdio: 'ignore'})
    child.on('error', () => rmSync(dir, {recursive: true, force: true}))
    child.unref()
  } catch {
    rmSync(dir, {recursive: true, force: true})
  }
}

async function materialized(repo: Repository, input: Oid): Promise<Workspace> {
  const base = tempBase()
  const dir = join(base, 'root')
  let disposed = false
  const dispose = async (): Promise<void> => {
    if (disposed) return
    disposed = true
    removeInBackground(base)
  }
  let root: string
  try {
    // Loaded here: the mount path (the default) needs none of the restore code.
    const [{restoreTree}, {primeStatCache}] = await Promise.all([import('../restore/restoreTree.js'), import('./primeStatCache.js')])
    const tree = repo.readSnapshot(input).tree
    await restoreTree(repo, tree, dir)
    root = realpathSync(dir)
    primeStatCache(repo, tree, root)
  } catch (err) {
    await dispose()
    throw err
  }
  return {
    mode: 'materialize',
    root,
    chdirAfterExec: false,
    async finish(f = {}) {
      try {
        const {snapshot} = await import('../api/snapshot.js')
        const output = await snapshot(repo, {dir: root, noRef: true, parents: [input], command: 'run', onWarning: f.onWarning})
        return {output, trace: null}
      } finally {
        // The stat cache of a directory that is about to vanish is of no use to anyone.
        rmSync(join(repo.cacheDir, 'stat', statCacheName(root)), {force: true})
        await dispose()
      }
    },
    dispose,
  }
}
