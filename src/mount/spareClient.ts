/**
 * The launcher's side of the spare mount server (spareServer.ts): a velo process that has already
 * loaded everything a mount needs (modules, fuse-native, the repository's indexes) and waits on a
 * unix socket for one `velo checkout`. It then serves that one mount, exactly as a server spawned
 * for it would (its own process, pid, log and lifetime), and leaves a new spare behind. This
 * takes two process starts off the mount latency. Light on imports: the launcher loads it.
 *
 * Protocol (one JSON object per line): the spare sends {pid} on accepting; the launcher sends
 * {stamp, args, env}; the spare answers {retry: true} (another velo build: use a fresh server)
 * or the ready message of a spawned server ({ok, record} or {ok: false, error}).
 * VELO_MOUNT_SPARE=0 turns spares off (neither used nor started).
 */
import {spawn} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync} from 'node:fs'
import {connect} from 'node:net'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {VeloError} from '../util/errors.js'
import type {OnTransferProgress} from '../remote/progress.js'
import type {ProgressLine} from './progressRelay.js'
import type {MountRecord} from './registry.js'

export interface SpareArgs {
  rev: string
  /** Absolute paths. */
  mountpoint: string
  upper?: string
  readOnly: boolean
  /** Lazy checkout: the remote that serves missing content. */
  remote?: string
  id: string
}

export interface SpareReply {
  ok: boolean
  record?: MountRecord
  error?: {code: string; message: string; hint?: string; data?: Record<string, unknown>}
}

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export function sparesEnabled(): boolean {
  return process.env.VELO_MOUNT_SPARE !== '0'
}

/** The spare's socket: per repository and user (a root launcher never uses a user's server). */
export function spareSocketPath(repoRoot: string): string {
  return join(repoRoot, 'cache', `mount-spare-${process.getuid?.() ?? 0}.sock`)
}

/** Holds the pid of the spare that owns the socket (taken with O_EXCL). */
export function spareLockPath(repoRoot: string): string {
  return join(repoRoot, 'cache', `mount-spare-${process.getuid?.() ?? 0}.pid`)
}

/** Pid of the live spare of `repoRoot` (waiting or starting), if any. */
export function spareOwner(repoRoot: string): number | undefined {
  let pid: number
  try {
    pid = Number(readFileSync(spareLockPath(repoRoot), 'utf8'))
  } catch {
    return undefined
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  try {
    process.kill(pid, 0)
    return pid
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined
  }
}

/** Identifies this velo build: a spare of another build is not used. */
export function buildStamp(): string {
  return `${process.version} ${statSync(fileURLToPath(import.meta.url)).mtimeMs}`
}

/** Starts a spare for `repoRoot` in the background unless one seems to be waiting already. */
export function ensureSpare(repoRoot: string): void {
  if (!sparesEnabled()) return
  const sock = spareSocketPath(repoRoot)
  // Unix socket paths are limited to 107 bytes.
  if (Buffer.byteLength(sock) > 100 || spareOwner(repoRoot) !== undefined) return
  let logFd: number | undefined
  try {
    mkdirSync(join(repoRoot, 'cache'), {recursive: true})
    logFd = openSync(join(repoRoot, 'cache', 'mount-spare.log'), 'a', 0o644)
    // The repository goes by environment, not argv: the process is not tied to one command line.
    const child = spawn(process.execPath, [BIN, 'checkout', '--spare-server'], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      cwd: '/',
      env: {...process.env, VELO_REPO: repoRoot},
    })
    child.on('error', () => undefined)
    child.unref()
  } catch {
    // no spare: the next checkout starts its own server
  } finally {
    if (logFd !== undefined) closeSync(logFd)
  }
}

/**
 * Asks the waiting spare to serve `a`. Undefined when there is none (or it cannot take the job):
 * then the caller starts a server of its own. Throws when the spare took the job and failed to
 * answer in time or died; the mount is then detached.
 */
export function checkoutViaSpare(repoRoot: string, a: SpareArgs, timeoutMs: number, logPath: string, onProgress?: OnTransferProgress): Promise<SpareReply | undefined> {
  if (!sparesEnabled()) return Promise.resolve(undefined)
  const sock = spareSocketPath(repoRoot)
  if (Buffer.byteLength(sock) > 100 || !existsSync(sock)) return Promise.resolve(undefined)
  return new Promise((resolveReply, reject) => {
    let pid: number | undefined
    let sent = false
    let done = false
    let buf = ''
    const c = connect(sock)
    const finish = (fn: () => void): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      c.destroy()
      fn()
    }
    const fail = (err: VeloError): void =>
      finish(() => {
        if (pid !== undefined) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {
            // already gone
          }
          void import('./registry.js').then(({mountInfo, detach, canonicalMountpoint}) => {
            const mnt = canonicalMountpoint(a.mountpoint)
            if (mountInfo(mnt)) detach(mnt)
            reject(err)
          }, () => reject(err))
        } else reject(err)
      })
    c.setEncoding('utf8')
    c.on('error', (err: NodeJS.ErrnoException) => {
      // Nobody listening (a spare that died): remove its socket so that the next server starts one.
      if (err.code === 'ECONNREFUSED') {
        try {
          unlinkSync(sock)
        } catch {
          // gone already
        }
      }
      if (!sent) finish(() => resolveReply(undefined))
    })
    c.on('data', (d: string) => {
      buf += d
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        let m: {pid?: number; retry?: boolean} & SpareReply & Partial<ProgressLine>
        try {
          m = JSON.parse(line)
        } catch {
          return finish(() => resolveReply(undefined))
        }
        if (typeof m.pid === 'number' && !sent) {
          pid = m.pid
          sent = true
          c.write(JSON.stringify({stamp: buildStamp(), args: a, env: process.env}) + '\n')
        } else if (m.progress) onProgress?.(m.progress)
        else if (m.retry) return finish(() => resolveReply(undefined))
        else return finish(() => resolveReply(m))
      }
    })
    c.on('close', () => {
      if (!sent) finish(() => resolveReply(undefined))
      else fail(new VeloError('ERR_VELO_MOUNT', 'the mount server exited before the mount was ready', {hint: `see its log: ${logPath}`}))
    })
    const timer = setTimeout(
      () => fail(new VeloError('ERR_VELO_MOUNT', `the mount server did not answer within ${timeoutMs / 1000} s`, {hint: `see its log: ${logPath}`})),
      timeoutMs,
    )
  })
}
