/**
 * The registry of a repository's mounts (docs/format.md, "Mounts"):
 *
 *   <repo>/mounts/<id>/mount.json   the mount's record (kept after unmount, with "ended")
 *   <repo>/mounts/<id>/serve.log    the log of the process serving it
 *   <repo>/mounts/<id>/trace        its access trace (AccessTrace.ts)
 *   <repo>/mounts/<id>/fetch.json   what a lazy mount fetched from its remote (RemoteContent.ts)
 *   <repo>/mounts/<id>/upper/       its upper layer, unless --upper named another directory
 *   <repo>/mounts/active/<key>      symlink to ../<id>/mount.json while the mount is served;
 *                                   <key> is 32 hex digits of BLAKE3(mount point path)
 *
 * A record whose process is dead is stale: listMounts prunes it (and detaches a mount left behind).
 */
import {randomBytes} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, renameSync} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'
import {hash} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {isErrno} from '../util/errors.js'
import {atomicWrite} from '../util/fsx.js'
import {isAlive} from './Layer.js'

export interface MountRecord {
  id: string
  snapshot: Oid
  /** The revision as given to checkout. */
  rev: string
  mountpoint: string
  /** The upper layer's directory; null for a read-only mount without one. */
  upper: string | null
  readOnly: boolean
  pid: number
  /** ISO-8601 time the mount became ready. */
  since: string
  log: string
  trace: string
  /** The remote that serves content missing locally (lazy checkout); null or absent: none. */
  remote?: string | null
  ended?: string
}

export function mountsDir(repoRoot: string): string {
  return join(repoRoot, 'mounts')
}

export function mountDir(repoRoot: string, id: string): string {
  return join(repoRoot, 'mounts', id)
}

export function newMountId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')
  return `${t}-${randomBytes(3).toString('hex')}`
}

/** A path as the registry keys it: absolute, its parent's symlinks resolved, the mount point itself not touched. */
export function canonicalMountpoint(path: string): string {
  const abs = resolve(path)
  if (abs === '/') return abs
  try {
    return join(realpathSync(dirname(abs)), basename(abs))
  } catch {
    return abs
  }
}

function activeKey(mountpoint: string): string {
  return hash(Buffer.from(mountpoint)).toString('hex').slice(0, 32)
}

function activePath(repoRoot: string, mountpoint: string): string {
  return join(repoRoot, 'mounts', 'active', activeKey(mountpoint))
}

export function registerMount(repoRoot: string, rec: MountRecord): void {
  const dir = mountDir(repoRoot, rec.id)
  atomicWrite(join(dir, 'mount.json'), JSON.stringify(rec, null, 2) + '\n', {sync: false})
  const active = join(repoRoot, 'mounts', 'active')
  mkdirSync(active, {recursive: true})
  const link = activePath(repoRoot, rec.mountpoint)
  const tmp = `${link}.${process.pid}.tmp`
  rmSync(tmp, {force: true})
  symlinkSync(join('..', rec.id, 'mount.json'), tmp)
  renameSync(tmp, link)
}

/** Removes the mount from the active set and records when it ended. */
export function unregisterMount(repoRoot: string, rec: MountRecord): void {
  const link = activePath(repoRoot, rec.mountpoint)
  try {
    const cur = JSON.parse(readFileSync(link, 'utf8')) as MountRecord
    if (cur.id === rec.id) rmSync(link, {force: true})
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) rmSync(link, {force: true})
  }
  try {
    atomicWrite(join(mountDir(repoRoot, rec.id), 'mount.json'), JSON.stringify({...rec, ended: new Date().toISOString()}, null, 2) + '\n', {sync: false})
  } catch {
    // the mount's directory was removed (velo unmount --discard): nothing to record
  }
}

/** The active record for a mount point (even if its process died), or undefined. */
export function activeRecord(repoRoot: string, path: string): MountRecord | undefined {
  try {
    return JSON.parse(readFileSync(activePath(repoRoot, canonicalMountpoint(path)), 'utf8')) as MountRecord
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined
    throw err
  }
}

/** The mount served at `path` by a live process, if `path` is one of this repository's mounts. */
export function findMount(repoRoot: string, path: string): MountRecord | undefined {
  const rec = activeRecord(repoRoot, path)
  return rec && isAlive(rec.pid) ? rec : undefined
}

/** Active mounts; stale records (dead process) are pruned, and a mount they left behind detached. */
export function listMounts(repoRoot: string, o: {prune?: boolean} = {}): MountRecord[] {
  const active = join(repoRoot, 'mounts', 'active')
  let names: string[]
  try {
    names = readdirSync(active)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return []
    throw err
  }
  const out: MountRecord[] = []
  for (const n of names) {
    if (n.endsWith('.tmp')) continue
    let rec: MountRecord
    try {
      rec = JSON.parse(readFileSync(join(active, n), 'utf8')) as MountRecord
    } catch {
      if (o.prune !== false) rmSync(join(active, n), {force: true})
      continue
    }
    if (isAlive(rec.pid)) {
      out.push(rec)
      continue
    }
    if (o.prune !== false) {
      if (mountInfo(rec.mountpoint)) detach(rec.mountpoint)
      unregisterMount(repoRoot, rec)
    }
  }
  return out.sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : 0))
}

export interface MountInfoLine {
  mountId: number
  mountpoint: string
  fstype: string
  source: string
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}

export function parseMountinfo(text: string): MountInfoLine[] {
  const out: MountInfoLine[] = []
  for (const line of text.split('\n')) {
    if (!line) continue
    const dash = line.indexOf(' - ')
    if (dash < 0) continue
    const a = line.slice(0, dash).split(' ')
    const b = line.slice(dash + 3).split(' ')
    out.push({mountId: Number(a[0]), mountpoint: unescapeMountinfo(a[4]), fstype: b[0], source: unescapeMountinfo(b[1] ?? '')})
  }
  return out
}

/** The last mount at `path` in this process's mount namespace, if any. */
export function mountInfo(path: string, text?: string): MountInfoLine | undefined {
  const lines = parseMountinfo(text ?? readFileSync('/proc/self/mountinfo', 'utf8'))
  let found: MountInfoLine | undefined
  for (const l of lines) if (l.mountpoint === path) found = l
  return found
}

export function isVeloMount(m: MountInfoLine | undefined): boolean {
  return Boolean(m && m.fstype === 'fuse.velo')
}

/** Lazily detaches a mount whose server is gone (fusermount -uz, or umount -l as root). */
export function detach(mountpoint: string): boolean {
  try {
    execFileSync('fusermount', ['-uz', mountpoint], {stdio: 'ignore'})
    return true
  } catch {
    if (process.getuid?.() !== 0) return false
  }
  try {
    execFileSync('umount', ['-l', mountpoint], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}
