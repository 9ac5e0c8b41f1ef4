/**
 * Helpers for tests with real FUSE mounts: whether they must run, temp directories that detach
 * mounts and stop servers below them before being removed, and checks for stale mounts and
 * orphan processes.
 */
import {execFileSync} from 'node:child_process'
import {accessSync, chmodSync, chownSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {onTestFinished} from 'vitest'

/**
 * Real-mount tests run when FUSE looks usable here, and always when VELO_TEST_FUSE=1 (CI): there an
 * unusable FUSE makes them fail, never skip.
 */
export function fuseTestsEnabled(): boolean {
  if (process.env.VELO_TEST_FUSE === '1') return true
  if (!existsSync('/dev/fuse')) return false
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK)
  } catch {
    return false
  }
  try {
    return /libfuse\.so\.2 /.test(execFileSync('ldconfig', ['-p'], {encoding: 'utf8'}))
  } catch {
    return false
  }
}

export interface MountLine {
  mountpoint: string
  fstype: string
}

export function mountsUnder(root: string): MountLine[] {
  const out: MountLine[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const dash = line.indexOf(' - ')
    if (dash < 0) continue
    const mp = line.slice(0, dash).split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
    if (mp === root || mp.startsWith(root + '/')) out.push({mountpoint: mp, fstype: line.slice(dash + 3).split(' ')[0]})
  }
  return out
}

/** Pids of processes (other than this one) whose command line mentions `root`. */
export function processesUnder(root: string): number[] {
  const out: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue
    let cmd: string
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8')
    } catch {
      continue
    }
    if (cmd.includes(root)) out.push(Number(d))
  }
  return out
}

/** Detaches every mount below `root` and kills every process that mentions it. */
export function cleanupMounts(root: string): void {
  for (const m of mountsUnder(root).reverse()) {
    try {
      execFileSync('fusermount', ['-uz', m.mountpoint], {stdio: 'ignore'})
    } catch {
      try {
        execFileSync('umount', ['-l', m.mountpoint], {stdio: 'ignore'})
      } catch {
        // nothing more to do
      }
    }
  }
  for (const pid of processesUnder(root)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
}

/** A temp directory (mode 0755) removed after the test, once nothing is mounted below it. */
export function mountScratch(prefix = 'velo-mnt-', owner?: {uid: number; gid: number}): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  chmodSync(d, 0o755)
  if (owner) chownSync(d, owner.uid, owner.gid)
  onTestFinished(() => {
    cleanupMounts(d)
    rmSync(d, {recursive: true, force: true})
  })
  return d
}

/** Waits until `check` is true (polling), or throws after `ms`. */
export async function waitFor(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
