/**
 * Lock files: created with O_EXCL, they record who holds them (pid, host, start time, command).
 * A lock left by a dead process on this host is broken automatically and reported; one held by a
 * live process, or by another host, is an error naming the holder and the command that clears it.
 */
import {closeSync, constants, openSync, readFileSync, statSync, unlinkSync, writeSync} from 'node:fs'
import {hostname} from 'node:os'
import {VeloError, fsError, isErrno} from '../util/errors.js'

export interface LockOwner {
  pid: number
  host: string
  started: string
  command: string
}

export interface Lock {
  path: string
  release(): void
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return !isErrno(err, 'ESRCH')
  }
}

export function readLockOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner
  } catch {
    return undefined
  }
}

export interface AcquireOptions {
  command: string
  /** Keep trying this long while a live holder has it (ms). */
  waitMs?: number
  onWarning?: (msg: string) => void
  what?: string
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

const UNREADABLE_STALE_MS = 2000

function lockAgeMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs
  } catch {
    return 0
  }
}

export function acquireLock(path: string, o: AcquireOptions): Lock {
  const deadline = Date.now() + (o.waitMs ?? 5000)
  const me: LockOwner = {pid: process.pid, host: hostname(), started: new Date().toISOString(), command: o.command}
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644)
      try {
        writeSync(fd, JSON.stringify(me) + '\n')
      } finally {
        closeSync(fd)
      }
      let released = false
      return {
        path,
        release() {
          if (released) return
          released = true
          try {
            unlinkSync(path)
          } catch {
            /* already gone */
          }
        },
      }
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw fsError(err, path, 'creating lock')
    }
    const owner = readLockOwner(path)
    if (owner && owner.host === me.host && !processAlive(owner.pid)) {
      try {
        unlinkSync(path)
        o.onWarning?.(`removed a stale lock ${path} left by process ${owner.pid} (${owner.command}, started ${owner.started}), which is no longer running`)
      } catch {
        /* someone else removed it */
      }
      continue
    }
    // An empty or torn lock file: its creator was killed between creating and writing it (a live
    // one writes at once), so once it is a few seconds old it is stale.
    if (!owner && lockAgeMs(path) > UNREADABLE_STALE_MS) {
      try {
        unlinkSync(path)
        o.onWarning?.(`removed a stale lock ${path} left empty by a process that was killed while creating it`)
      } catch {
        /* someone else removed it */
      }
      continue
    }
    if (Date.now() < deadline) {
      sleep(Math.min(50 * (attempt + 1), 250))
      continue
    }
    const who = owner
      ? `process ${owner.pid} on ${owner.host} (${owner.command}, since ${owner.started})`
      : 'an unknown process (unreadable lock file)'
    throw new VeloError('ERR_VELO_LOCKED', `${o.what ?? 'lock'} ${path} is held by ${who}`, {
      hint: owner && owner.host !== me.host
        ? `if that process is gone, run: velo unlock (or rm ${JSON.stringify(path)})`
        : `wait for it to finish; if it is stuck, stop it, or run: rm ${JSON.stringify(path)}`,
      data: {path, owner},
    })
  }
}
