/**
 * `velo deps`: provide a dependency tree from a snapshot instead of installing it (docs/deps.md).
 * The key (src/deps/depsKey.ts) names a ref `deps/<key>`. Hit: the ref is in this repository, or on
 * --remote (then it is pulled): DIR is mounted copy-on-write (as velo checkout does) or restored
 * (materialize). Miss: the install command runs, DIR is snapshotted under the ref and pushed to
 * --remote. Returns what happened; prints nothing.
 */
import {existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import type {DepsInputs, DepsPlan} from '../deps/planDeps.js'
import type {InstallResult} from '../deps/runInstall.js'
import {canonicalMountpoint, listMounts, type MountRecord} from '../mount/registry.js'
import type {Oid} from '../objects/oid.js'
import type {OnTransferProgress} from '../remote/progress.js'
import type {Repository} from '../repo/Repository.js'
import {statCacheName} from '../snapshot/refNameFor.js'
import type {ScanProgress} from '../snapshot/scanTree.js'
import {VeloError, fsError} from '../util/errors.js'
// The rest (snapshot, restore, diff, unmount, remotes) is imported where it is needed: a hit that
// mounts loads none of it.

/** How DIR came to hold the tree. */
export type DepsProvided = 'mounted' | 'restored' | 'installed' | 'already'

export interface DepsResult {
  key: string
  ref: string
  hit: boolean
  /** Where the tree came from: this repository, the remote, or the install command. */
  source: 'local' | 'remote' | 'installed'
  remote: string | null
  provided: DepsProvided
  /** DIR, absolute. */
  dir: string
  snapshot: Oid
  /** Seconds from the start of the command (key included) until DIR was usable. */
  seconds: number
  /** The mount serving DIR (mounted, or already mounted), else null. */
  mount: MountRecord | null
  /** On a miss: the install command. */
  install: InstallResult | null
  /** On a miss: what the snapshot of DIR recorded. */
  recorded: {files: number; bytes: number; newBytes: number; storedBytes: number} | null
  /** On a miss with --remote: whether the snapshot was pushed (a failed push is a warning). */
  pushed: boolean | null
  inputs: DepsInputs
}

export interface DepsStatus {
  key: string
  ref: string
  dir: string
  inputs: DepsInputs
  /** The snapshot under the ref in this repository, else null. */
  local: Oid | null
  /** The remote asked (--remote) and what it holds under the ref; null without --remote. */
  remote: {name: string; snapshot: Oid | null; error?: string} | null
  /** What velo deps would do now. */
  hit: boolean
  source: 'local' | 'remote' | null
  /** DIR already holds the tree (a velo mount of the snapshot, or the same files). */
  provided: boolean
}

export interface DepsOptions {
  plan: DepsPlan
  remote?: string
  /** Restore DIR as real files instead of mounting it. */
  materialize?: boolean
  /** Replace a DIR that is not empty (or a velo mount not made by velo deps). */
  force?: boolean
  /** Mounts `rev` at `dir` the way velo checkout does (a background server); given by the command. */
  mount: (rev: string, dir: string) => Promise<MountRecord>
  /** Where the install command's stdout goes (stderr when velo's stdout carries JSON). */
  installStdout?: 'stdout' | 'stderr'
  onWarning?: (msg: string) => void
  onScanProgress?: (p: ScanProgress) => void
  onTransferProgress?: OnTransferProgress
  onRestoreProgress?: (p: {files: number; bytes: number; totalFiles: number; totalBytes: number}) => void
  /** When the command started (ms); default now. */
  started?: number
}

/** The live velo mount at `dir`, if any (stale records of dead servers are pruned first). */
function mountAt(repo: Repository, dir: string): MountRecord | undefined {
  const mnt = canonicalMountpoint(dir)
  return listMounts(repo.root).find((m) => m.mountpoint === mnt)
}

function isEmptyDir(dir: string): boolean | undefined {
  const st = lstatSync(dir, {throwIfNoEntry: false})
  if (!st) return undefined
  if (!st.isDirectory()) {
    throw new VeloError('ERR_VELO_TARGET_NOT_EMPTY', `${dir} exists and is not a directory`, {hint: 'remove it, or choose another --dir'})
  }
  return readdirSync(dir).length === 0
}

/**
 * Whether the real directory `dir` holds exactly `tree`: only asked when velo has a stat cache of
 * it (it was snapshotted or restored by velo), so that this costs a walk with lstat, not a hash.
 */
async function holdsTree(repo: Repository, dir: string, tree: Oid, onProgress?: (p: ScanProgress) => void): Promise<boolean> {
  let real: string
  try {
    real = realpathSync(dir)
  } catch {
    return false
  }
  if (!existsSync(join(repo.cacheDir, 'stat', statCacheName(real)))) return false
  const {scanDirectory} = await import('./diff.js')
  return (await scanDirectory(repo, real, new Map(), {onProgress})) === tree
}

/** Whether DIR provides the snapshot now (velo mount of it, or the same files); no side effects but pruning stale mounts. */
async function providedNow(repo: Repository, dir: string, snap: Oid, o: {materialize?: boolean; onScanProgress?: (p: ScanProgress) => void}): Promise<{provided: boolean; mount?: MountRecord}> {
  const rec = mountAt(repo, dir)
  if (rec) return {provided: rec.snapshot === snap && !o.materialize, mount: rec}
  if (isEmptyDir(dir) !== false) return {provided: false}
  return {provided: await holdsTree(repo, dir, repo.readSnapshot(snap).tree, o.onScanProgress)}
}

/** Takes a velo mount off DIR: a deps mount (its upper layer deleted: a derived tree), any other only with force. */
async function clearMount(repo: Repository, rec: MountRecord, force: boolean | undefined): Promise<void> {
  const ours = rec.rev.startsWith('deps/')
  if (!ours && !force) {
    throw new VeloError('ERR_VELO_TARGET_NOT_EMPTY', `${rec.mountpoint} is a velo mount of ${rec.rev} (${rec.snapshot.slice(0, 12)}), not one made by velo deps`, {
      hint: `unmount it first (velo unmount ${rec.mountpoint}), or pass --force to unmount it (its upper layer is kept)`,
    })
  }
  const {unmount} = await import('./mounts.js')
  await unmount(repo, rec.mountpoint, {discard: ours})
}

async function readRemoteRef(repo: Repository, remote: string, ref: string): Promise<Oid | null> {
  const [{getRemote}, {openTransport}, {RemoteRepo}] = await Promise.all([
    import('../remote/RemoteConfig.js'),
    import('../remote/openTransport.js'),
    import('../remote/RemoteRepo.js'),
  ])
  const spec = getRemote(repo, remote)
  const r = new RemoteRepo(await openTransport(spec, {repoConfig: repo.config}), remote)
  return (await r.readRef(ref))?.oid ?? null
}

export async function depsStatus(repo: Repository, o: {plan: DepsPlan; remote?: string; materialize?: boolean}): Promise<DepsStatus> {
  const {plan} = o
  const local = repo.refs.read(plan.ref) ?? null
  let remote: DepsStatus['remote'] = null
  if (o.remote) {
    try {
      remote = {name: o.remote, snapshot: await readRemoteRef(repo, o.remote, plan.ref)}
    } catch (err) {
      if (err instanceof VeloError && err.code === 'ERR_VELO_NOT_FOUND' && /no remote named/.test(err.message)) throw err
      remote = {name: o.remote, snapshot: null, error: (err as Error).message}
    }
  }
  const snap = local ?? remote?.snapshot ?? null
  const provided = local ? (await providedNow(repo, plan.dir, local, o)).provided : false
  return {
    key: plan.key, ref: plan.ref, dir: plan.dir, inputs: plan.inputs, local, remote,
    hit: snap !== null, source: local ? 'local' : remote?.snapshot ? 'remote' : null, provided,
  }
}

export async function deps(repo: Repository, o: DepsOptions): Promise<DepsResult> {
  const started = o.started ?? Date.now()
  const {plan} = o
  const base = {key: plan.key, ref: plan.ref, remote: o.remote ?? null, dir: plan.dir, inputs: plan.inputs}
  const elapsed = (): number => (Date.now() - started) / 1000
  let snap = repo.refs.read(plan.ref) ?? null
  let source: DepsResult['source'] = 'local'
  if (!snap && o.remote) {
    snap = await fetchFromRemote(repo, o.remote, plan.ref, o)
    source = 'remote'
  }
  if (snap) {
    const r = await provide(repo, snap, o)
    return {...base, hit: true, source, snapshot: snap, seconds: elapsed(), provided: r.provided, mount: r.mount, install: null, recorded: null, pushed: null}
  }

  // Miss: install into DIR as a real directory, record it, share it.
  const rec = mountAt(repo, plan.dir)
  if (rec) await clearMount(repo, rec, o.force)
  const {runInstall} = await import('../deps/runInstall.js')
  const install = await runInstall({argv: plan.spec.argv, cwd: plan.cwd, env: plan.spec.env, stdout: o.installStdout ?? 'stdout'})
  const st = lstatSync(plan.dir, {throwIfNoEntry: false})
  if (!st?.isDirectory()) {
    throw new VeloError('ERR_VELO_NOT_FOUND', `the install command succeeded but did not create the directory ${plan.dir}`, {
      hint: 'name the directory it fills with --dir',
    })
  }
  const {snapshot} = await import('./snapshot.js')
  const s = await snapshot(repo, {
    dir: plan.dir,
    ref: plan.ref,
    message: `velo deps ${plan.spec.manager}: ${plan.spec.argv.join(' ')}`,
    meta: {'deps.key': plan.key, 'deps.manager': plan.spec.manager, 'deps.runtime': plan.inputs.runtime, 'deps.platform': `${plan.inputs.platform}-${plan.inputs.arch}`},
    command: 'deps',
    onWarning: o.onWarning,
    onProgress: o.onScanProgress,
  })
  const seconds = elapsed()
  let pushed: boolean | null = null
  if (o.remote) {
    const {push} = await import('./push.js')
    try {
      await push(repo, {remote: o.remote, refs: [plan.ref], onProgress: o.onTransferProgress, onWarning: o.onWarning})
      pushed = true
    } catch (err) {
      pushed = false
      o.onWarning?.(`the tree was recorded here but could not be pushed to ${o.remote}: ${(err as Error).message}; push it later with velo push ${o.remote} ${plan.ref}`)
    }
  }
  return {
    ...base, hit: false, source: 'installed', snapshot: s.id, seconds, provided: 'installed', mount: null, install,
    recorded: {files: s.files, bytes: s.bytes, newBytes: s.newBytes, storedBytes: s.storedBytes}, pushed,
  }
}

/** Pulls the ref from the remote when it has it; a remote that cannot be reached is a warning (then it is a miss). */
async function fetchFromRemote(repo: Repository, remote: string, ref: string, o: DepsOptions): Promise<Oid | null> {
  let has: Oid | null
  try {
    has = await readRemoteRef(repo, remote, ref)
  } catch (err) {
    if (err instanceof VeloError && err.code === 'ERR_VELO_NOT_FOUND' && /no remote named/.test(err.message)) throw err
    o.onWarning?.(`could not read ${ref} on ${remote}: ${(err as Error).message}; installing instead`)
    return null
  }
  if (!has) return null
  const {pull} = await import('./pull.js')
  await pull(repo, {remote, refs: [ref], onProgress: o.onTransferProgress, onWarning: o.onWarning})
  return repo.refs.read(ref) ?? has
}

async function provide(repo: Repository, snap: Oid, o: DepsOptions): Promise<{provided: DepsProvided; mount: MountRecord | null}> {
  const dir = o.plan.dir
  const now = await providedNow(repo, dir, snap, o)
  if (now.provided) return {provided: 'already', mount: now.mount ?? null}
  if (now.mount) await clearMount(repo, now.mount, o.force)
  const empty = isEmptyDir(dir)
  if (empty === false && !o.force) {
    throw new VeloError('ERR_VELO_TARGET_NOT_EMPTY', `${dir} exists and is not empty (the tree for this key is ${snap.slice(0, 12)})`, {
      hint: `pass --force to replace it, or remove it first (rm -rf ${dir})`,
      data: {dir, snapshot: snap},
    })
  }
  if (o.materialize) {
    const tree = repo.readSnapshot(snap).tree
    const [{restoreTree}, {primeStatCache}] = await Promise.all([import('../restore/restoreTree.js'), import('../run/primeStatCache.js')])
    await restoreTree(repo, tree, dir, {force: o.force, onProgress: o.onRestoreProgress})
    try {
      primeStatCache(repo, tree, realpathSync(dir))
    } catch (err) {
      o.onWarning?.(`could not save the stat cache of ${dir}: ${(err as Error).message}`)
    }
    return {provided: 'restored', mount: null}
  }
  try {
    if (empty === false) rmSync(dir, {recursive: true, force: true})
    mkdirSync(dir, {recursive: true})
  } catch (err) {
    throw fsError(err, dir, 'emptying')
  }
  try {
    return {provided: 'mounted', mount: await o.mount(o.plan.ref, dir)}
  } catch (err) {
    if (err instanceof VeloError && err.code === 'ERR_VELO_MOUNT_UNAVAILABLE') {
      throw new VeloError(err.code, err.message, {hint: `pass --materialize to restore ${dir} as real files instead (${err.hint ?? 'or make FUSE usable'})`, cause: err})
    }
    throw err
  }
}
