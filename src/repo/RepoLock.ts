/**
 * Repository locks: shared for writers (snapshot, import, push, pull, ref moves), exclusive for
 * maintenance that deletes or moves objects (gc, repack). Files under `<repo>/locks/`:
 *   exclusive.lock                  one at most (created with link(2), which fails if it exists)
 *   shared-<pid>-<rand>.lock        one per writer
 * Each holds JSON {pid, host, bootId, procStart, started, command, mode, token} and its mtime is
 * refreshed while held (a timer), so other hosts can tell a live lock from an abandoned one.
 *
 * Protocol: a writer creates its shared file, then looks for exclusive.lock; gc creates
 * exclusive.lock, then waits until no shared file is left (new writers back off while it is
 * there). Each side writes its own file before reading the other's, so at least one of two racing
 * processes sees the other. A lock whose process is gone (same host: pid dead, pid reused, or the
 * machine rebooted) is broken automatically and reported; a lock of another host is removed only
 * by `velo unlock`, once it has not been refreshed for `staleMs`.
 * A process holding a shared lock must not ask for the exclusive one: it would wait for itself
 * until waitMs runs out (maybeAutoRepack runs after the snapshot's lock is released, with waitMs 0).
 */
import {closeSync, constants, linkSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, utimesSync, writeSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {failpoint} from '../maintenance/failpoint.js'
import {processAlive} from '../refs/lockFile.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {mkdirp} from '../util/fsx.js'

export type LockMode = 'shared' | 'exclusive'

export interface RepoLockOwner {
  pid: number
  host: string
  /** Linux boot id: a lock from before a reboot is dead whatever its pid. */
  bootId?: string
  /** Start time of the process (clock ticks since boot, /proc/PID/stat): detects pid reuse. */
  procStart?: string
  started: string
  command: string
  mode: LockMode
  token: string
}

export interface RepoLockInfo {
  file: string
  path: string
  mode: LockMode
  owner?: RepoLockOwner
  /** Last refresh (the file's mtime). */
  refreshed: string
  ageMs: number
  /** live: held by a running process here; dead: its process is gone (this host); remote: another host, refreshed recently; stale: another host (or unreadable), not refreshed for staleMs. */
  state: 'live' | 'dead' | 'remote' | 'stale'
}

export interface RepoLockOptions {
  command: string
  /** How long to wait for a conflicting holder (ms). Default: $VELO_LOCK_WAIT seconds, else 600 s. */
  waitMs?: number
  onWarning?: (msg: string) => void
  /** Refresh interval of the lock file's mtime (ms). Default 60 s ($VELO_LOCK_REFRESH_MS). */
  refreshMs?: number
}

export interface RepoLock {
  mode: LockMode
  path: string
  release(): void
}

export const EXCLUSIVE_FILE = 'exclusive.lock'
/** A lock of another host that was not refreshed for this long may be removed by `velo unlock`. */
export const DEFAULT_STALE_MS = 30 * 60_000

function envMs(name: string, scale: number, dflt: number): number {
  const v = process.env[name]
  return v !== undefined && /^\d+(\.\d+)?$/.test(v) ? Number(v) * scale : dflt
}

let bootIdCache: string | undefined | null = null
function bootId(): string | undefined {
  if (bootIdCache === null) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    } catch {
      bootIdCache = undefined
    }
  }
  return bootIdCache
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), or undefined off Linux. */
export function processStart(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function locksDir(root: string): string {
  return join(root, 'locks')
}

function readOwner(path: string): RepoLockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as RepoLockOwner
    return typeof o.pid === 'number' && typeof o.host === 'string' ? o : undefined
  } catch {
    return undefined
  }
}

/** True when the owner certainly no longer runs (only decidable on the same host). */
export function ownerIsDead(o: RepoLockOwner): boolean {
  if (o.host !== hostname()) return false
  const boot = bootId()
  if (o.bootId && boot && o.bootId !== boot) return true
  if (!processAlive(o.pid)) return true
  if (o.procStart) {
    const now = processStart(o.pid)
    if (now !== undefined && now !== o.procStart) return true
  }
  return false
}

function describe(o: RepoLockOwner | undefined): string {
  return o ? `process ${o.pid} on ${o.host} (${o.command}, ${o.mode}, since ${o.started})` : 'an unknown process (unreadable lock file)'
}

function classify(path: string, file: string, staleMs: number): RepoLockInfo | undefined {
  let mtimeMs: number
  try {
    mtimeMs = statSync(path).mtimeMs
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    throw err
  }
  const owner = readOwner(path)
  const ageMs = Date.now() - mtimeMs
  let state: RepoLockInfo['state']
  if (owner && ownerIsDead(owner)) state = 'dead'
  else if (owner && owner.host === hostname()) state = 'live'
  else if (ageMs > staleMs) state = 'stale'
  else state = owner ? 'remote' : 'live' // an unreadable fresh file: someone is writing it
  return {file, path, mode: file === EXCLUSIVE_FILE ? 'exclusive' : 'shared', owner, refreshed: new Date(mtimeMs).toISOString(), ageMs, state}
}

/** Every lock file of the repository with its state. */
export function listRepoLocks(root: string, staleMs = DEFAULT_STALE_MS): RepoLockInfo[] {
  let names: string[]
  try {
    names = readdirSync(locksDir(root))
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return []
    throw err
  }
  const out: RepoLockInfo[] = []
  for (const f of names.sort()) {
    if (f !== EXCLUSIVE_FILE && !(f.startsWith('shared-') && f.endsWith('.lock'))) continue
    const info = classify(join(locksDir(root), f), f, staleMs)
    if (info) out.push(info)
  }
  return out
}

/**
 * Removes a lock file only if it still belongs to `owner` (another process may have broken it and
 * taken the lock in between): rename it aside, check the token, put it back if it changed hands.
 */
function removeIfOwnedBy(path: string, owner: RepoLockOwner | undefined): boolean {
  const aside = `${path}.broken-${randomBytes(4).toString('hex')}`
  try {
    renameSync(path, aside)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false
    throw err
  }
  const now = readOwner(aside)
  if (owner && now && now.token !== owner.token) {
    try {
      linkSync(aside, path)
    } catch {
      /* a new holder created it again meanwhile: theirs wins */
    }
    unlinkSync(aside)
    return false
  }
  unlinkSync(aside)
  return true
}

function writeOwnerFile(dir: string, owner: RepoLockOwner): string {
  const tmp = join(dir, `.tmp-${owner.token}`)
  let fd: number | undefined
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644)
    const b = Buffer.from(JSON.stringify(owner) + '\n')
    let off = 0
    while (off < b.length) off += writeSync(fd, b, off, b.length - off)
    closeSync(fd)
    fd = undefined
  } catch (err) {
    if (fd !== undefined) closeSync(fd)
    try {
      unlinkSync(tmp)
    } catch {
      /* not created */
    }
    throw fsError(err, dir, 'creating a lock in')
  }
  return tmp
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Acquires a repository lock, waiting up to waitMs for conflicting holders. */
export async function acquireRepoLock(root: string, mode: LockMode, o: RepoLockOptions): Promise<RepoLock> {
  const dir = locksDir(root)
  mkdirp(dir)
  const waitMs = o.waitMs ?? envMs('VELO_LOCK_WAIT', 1000, 600_000)
  const deadline = Date.now() + waitMs
  const owner: RepoLockOwner = {
    pid: process.pid,
    host: hostname(),
    bootId: bootId(),
    procStart: processStart(process.pid),
    started: new Date().toISOString(),
    command: o.command,
    mode,
    token: randomBytes(8).toString('hex'),
  }
  const exclusivePath = join(dir, EXCLUSIVE_FILE)
  let told = false
  let attempt = 0
  const waitOrFail = async (holders: RepoLockInfo[]): Promise<void> => {
    if (Date.now() >= deadline) {
      const h = holders[0]
      const remote = holders.some((x) => x.state === 'remote' || x.state === 'stale')
      throw new VeloError('ERR_VELO_LOCKED', `the repository ${root} is locked by ${describe(h?.owner)}${holders.length > 1 ? ` and ${holders.length - 1} more` : ''}`, {
        hint: remote
          ? 'if that host no longer runs velo, run: velo unlock (it removes locks not refreshed for 30 minutes; --force removes any)'
          : 'wait for it to finish (set VELO_LOCK_WAIT=SECONDS to wait longer), or stop it',
        data: {locks: holders.map((x) => ({file: x.file, owner: x.owner, state: x.state, refreshed: x.refreshed}))},
      })
    }
    if (!told) {
      told = true
      o.onWarning?.(`waiting for the repository lock held by ${describe(holders[0]?.owner)}`)
    }
    await sleep(Math.min(20 * 2 ** Math.min(attempt++, 4), 250))
  }
  /** Breaks dead locks among `infos` (reporting them); returns the ones still held. */
  const breakDead = (infos: RepoLockInfo[]): RepoLockInfo[] => {
    const held: RepoLockInfo[] = []
    for (const i of infos) {
      if (i.state === 'dead' && removeIfOwnedBy(i.path, i.owner)) {
        o.onWarning?.(`removed a stale ${i.mode} lock of ${describe(i.owner)}, which is no longer running`)
      } else if (i.state !== 'dead') held.push(i)
    }
    return held
  }

  if (mode === 'shared') {
    const myPath = join(dir, `shared-${process.pid}-${owner.token}.lock`)
    for (;;) {
      const tmp = writeOwnerFile(dir, owner)
      renameSync(tmp, myPath)
      const ex = classify(exclusivePath, EXCLUSIVE_FILE, DEFAULT_STALE_MS)
      const held = ex ? breakDead([ex]) : []
      if (held.length === 0) {
        if (ex) continue // broke a dead exclusive lock: look again
        return holdLock(myPath, mode, o)
      }
      unlinkSync(myPath) // back off while gc runs
      await waitOrFail(held)
    }
  }

  // exclusive: first the exclusive file, then wait for the writers to drain.
  const tmp = writeOwnerFile(dir, owner)
  try {
    for (;;) {
      try {
        linkSync(tmp, exclusivePath)
        break
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw fsError(err, exclusivePath, 'creating')
      }
      const ex = classify(exclusivePath, EXCLUSIVE_FILE, DEFAULT_STALE_MS)
      if (!ex) continue
      const held = breakDead([ex])
      if (held.length > 0) await waitOrFail(held)
    }
  } finally {
    unlinkSync(tmp)
  }
  try {
    for (;;) {
      const shared = listRepoLocks(root).filter((l) => l.mode === 'shared')
      const held = breakDead(shared)
      if (held.length === 0) break
      await waitOrFail(held)
    }
  } catch (err) {
    removeIfOwnedBy(exclusivePath, owner)
    throw err
  }
  return holdLock(exclusivePath, mode, o, owner)
}

function holdLock(path: string, mode: LockMode, o: RepoLockOptions, owner?: RepoLockOwner): RepoLock {
  const refreshMs = o.refreshMs ?? envMs('VELO_LOCK_REFRESH_MS', 1, 60_000)
  const timer = setInterval(() => {
    try {
      const t = new Date()
      utimesSync(path, t, t)
    } catch {
      /* removed by velo unlock --force: nothing to refresh */
    }
  }, refreshMs)
  timer.unref()
  let released = false
  return {
    mode,
    path,
    release() {
      if (released) return
      released = true
      clearInterval(timer)
      if (owner) removeIfOwnedBy(path, owner)
      else {
        try {
          unlinkSync(path)
        } catch {
          /* already removed (velo unlock --force) */
        }
      }
    },
  }
}

/** Runs `fn` while holding the repository lock in `mode`. */
export async function withRepoLock<T>(repo: {root: string} | string, mode: LockMode, command: string, fn: () => T | Promise<T>, o: Omit<RepoLockOptions, 'command'> = {}): Promise<T> {
  const lock = await acquireRepoLock(typeof repo === 'string' ? repo : repo.root, mode, {...o, command})
  try {
    failpoint(`locked:${command.split(' ')[0]}`) // tests hold a command here, with its lock
    return await fn()
  } finally {
    lock.release()
  }
}

export interface UnlockResult {
  removed: {file: string; owner?: RepoLockOwner; state: RepoLockInfo['state']}[]
  kept: {file: string; owner?: RepoLockOwner; state: RepoLockInfo['state']; reason: string}[]
}

/**
 * `velo unlock`: removes locks of dead processes on this host and locks of other hosts (or
 * unreadable ones) not refreshed for staleMs; with force, every lock.
 */
export function unlockRepo(root: string, o: {force?: boolean; staleMs?: number} = {}): UnlockResult {
  const res: UnlockResult = {removed: [], kept: []}
  for (const l of listRepoLocks(root, o.staleMs ?? DEFAULT_STALE_MS)) {
    if (o.force || l.state === 'dead' || l.state === 'stale') {
      if (removeIfOwnedBy(l.path, l.owner)) res.removed.push({file: l.file, owner: l.owner, state: l.state})
    } else {
      res.kept.push({
        file: l.file,
        owner: l.owner,
        state: l.state,
        reason: l.state === 'live' ? 'its process is running on this host' : `another host refreshed it ${Math.round(l.ageMs / 1000)} s ago`,
      })
    }
  }
  // Leftover temp files of interrupted lock attempts.
  try {
    for (const f of readdirSync(locksDir(root))) {
      if (!f.startsWith('.tmp-') && !f.includes('.broken-')) continue
      const p = join(locksDir(root), f)
      try {
        if (Date.now() - statSync(p).mtimeMs > 60_000) unlinkSync(p)
      } catch {
        /* gone */
      }
    }
  } catch {
    /* no locks dir */
  }
  return res
}
