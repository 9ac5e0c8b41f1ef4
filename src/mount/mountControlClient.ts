/**
 * `velo snapshot MNT` through the process that serves MNT (mountControl.ts): when DIR is a velo
 * mount of this repository whose server listens on its control socket, the snapshot is made there
 * (indexes and trees already loaded) and this process only prints the result. Light on imports:
 * a directory that is not a velo FUSE mount costs one read of /proc/self/mountinfo.
 */
import {existsSync, readFileSync, realpathSync} from 'node:fs'
import {connect} from 'node:net'
import {homedir} from 'node:os'
import {basename, dirname, join, resolve} from 'node:path'
import type {SnapshotResult} from '../api/snapshot.js'
import {VeloError} from '../util/errors.js'
import {CONTROL_SOCKET, type SnapshotRequest} from './mountControl.js'

/** The repository path as Repository.defaultRepoPath gives it (without loading the repository code). */
export function repoRootOf(explicit?: string): string {
  if (explicit) return resolve(explicit)
  if (process.env.VELO_REPO) return resolve(process.env.VELO_REPO)
  return join(homedir(), '.velo')
}

/** True when `dir` is exactly a velo FUSE mount point (fast check, no registry). */
function isVeloMountPoint(dir: string): string | undefined {
  const abs = resolve(dir)
  let mnt = abs
  try {
    if (abs !== '/') mnt = join(realpathSync(dirname(abs)), basename(abs))
  } catch {
    return undefined
  }
  let text: string
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8')
  } catch {
    return undefined
  }
  const esc = mnt.replace(/[\\ \t\n]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`)
  for (const line of text.split('\n')) {
    const f = line.split(' ')
    if (f[4] === esc && line.includes(' - fuse.velo ')) return mnt
  }
  return undefined
}

/**
 * The snapshot of mount `dir` made by its server, or undefined when `dir` is not a velo mount of
 * `repoRoot` with a reachable server (then snapshot it in this process).
 */
export async function snapshotViaMount(repoRoot: string, dir: string, options: SnapshotRequest['options'], onWarning: (m: string) => void): Promise<SnapshotResult | undefined> {
  if (process.env.VELO_MOUNT_CONTROL === '0') return undefined
  const mnt = isVeloMountPoint(dir)
  if (!mnt) return undefined
  const {findMount, mountDir} = await import('./registry.js')
  const rec = findMount(repoRoot, mnt)
  if (!rec) return undefined
  const sock = join(mountDir(repoRoot, rec.id), CONTROL_SOCKET)
  if (!existsSync(sock)) return undefined
  return new Promise((res, rej) => {
    let sent = false
    let done = false
    let buf = ''
    const c = connect(sock)
    const finish = (fn: () => void): void => {
      if (done) return
      done = true
      c.destroy()
      fn()
    }
    c.setEncoding('utf8')
    c.on('connect', () => {
      sent = true
      c.write(JSON.stringify({op: 'snapshot', options} satisfies SnapshotRequest) + '\n')
    })
    c.on('error', () => {
      // Before the request went out nothing happened: snapshot here instead.
      if (!sent) finish(() => res(undefined))
    })
    c.on('data', (d: string) => {
      buf += d
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const m = JSON.parse(line) as {type: string; message?: string; result?: SnapshotResult; error?: {code: string; message: string; hint?: string; data?: Record<string, unknown>}}
        if (m.type === 'warning') onWarning(m.message ?? '')
        else if (m.type === 'result') return finish(() => res(m.result))
        else if (m.type === 'error') {
          const e = m.error!
          return finish(() => rej(new VeloError(e.code as VeloError['code'], e.message, {hint: e.hint, data: e.data})))
        }
      }
    })
    c.on('close', () => {
      if (!sent) finish(() => res(undefined))
      else finish(() => rej(new VeloError('ERR_VELO_MOUNT', `the server of the mount at ${mnt} went away during the snapshot`, {hint: `see its log: ${rec.log}`})))
    })
  })
}
