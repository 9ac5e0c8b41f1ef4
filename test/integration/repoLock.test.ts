import {spawnSync} from 'node:child_process'
import {mkdirSync, readdirSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {acquireRepoLock, listRepoLocks, processStart, unlockRepo, withRepoLock} from '../../src/repo/RepoLock.js'
import {scratchDir} from '../helpers/trees.js'

const scratch = scratchDir('velo-lock-')
afterAll(() => scratch.cleanup())
let n = 0
const repoDir = (): string => {
  const d = join(scratch.path, `r${n++}`)
  mkdirSync(join(d, 'locks'), {recursive: true})
  return d
}

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'})
  return Number(r.stdout)
}

function fakeLock(root: string, file: string, owner: Record<string, unknown>, ageMs = 0): void {
  const p = join(root, 'locks', file)
  writeFileSync(p, JSON.stringify({started: new Date().toISOString(), command: 'snapshot', token: 't' + file, ...owner}))
  const t = new Date(Date.now() - ageMs)
  utimesSync(p, t, t)
}

describe('repository locks', () => {
  it('lets writers share and keeps gc out until they are done', async () => {
    const root = repoDir()
    const a = await acquireRepoLock(root, 'shared', {command: 'snapshot a'})
    const b = await acquireRepoLock(root, 'shared', {command: 'snapshot b'})
    expect(listRepoLocks(root).map((l) => [l.mode, l.state])).toEqual([['shared', 'live'], ['shared', 'live']])
    const order: string[] = []
    const warnings: string[] = []
    const gc = withRepoLock(root, 'exclusive', 'gc', () => order.push('gc'), {onWarning: (m) => warnings.push(m)})
    await new Promise((r) => setTimeout(r, 100))
    // While gc waits, its exclusive.lock holds new writers back.
    const c = acquireRepoLock(root, 'shared', {command: 'snapshot c'}).then((l) => {
      order.push('c')
      l.release()
    })
    await new Promise((r) => setTimeout(r, 100))
    expect(order).toEqual([])
    order.push('a, b done')
    a.release()
    b.release()
    await Promise.all([gc, c])
    expect(order).toEqual(['a, b done', 'gc', 'c'])
    expect(warnings[0]).toMatch(/waiting for the repository lock held by process \d+ on .* \(snapshot [ab], shared/)
    expect(readdirSync(join(root, 'locks'))).toEqual([])
  })

  it('fails with ERR_VELO_LOCKED naming the holder when the wait runs out', async () => {
    const root = repoDir()
    const ex = await acquireRepoLock(root, 'exclusive', {command: 'gc'})
    await expect(acquireRepoLock(root, 'shared', {command: 'snapshot', waitMs: 50})).rejects.toMatchObject({
      code: 'ERR_VELO_LOCKED',
      exitCode: 11,
      message: expect.stringMatching(new RegExp(`locked by process ${process.pid} on ${hostname()} \\(gc, exclusive`)),
    })
    ex.release()
    ;(await acquireRepoLock(root, 'shared', {command: 'snapshot', waitMs: 0})).release()
  })

  it('breaks locks of dead processes on this host by itself, and says so', async () => {
    const root = repoDir()
    fakeLock(root, 'exclusive.lock', {pid: deadPid(), host: hostname(), mode: 'exclusive', command: 'gc'})
    fakeLock(root, 'shared-1-x.lock', {pid: deadPid(), host: hostname(), mode: 'shared'})
    expect(listRepoLocks(root).map((l) => l.state)).toEqual(['dead', 'dead'])
    const warnings: string[] = []
    const l = await acquireRepoLock(root, 'exclusive', {command: 'gc', waitMs: 0, onWarning: (m) => warnings.push(m)})
    expect(warnings).toEqual([
      expect.stringMatching(/removed a stale exclusive lock of process \d+ .*\(gc, exclusive.*no longer running/),
      expect.stringMatching(/removed a stale shared lock of process \d+ .*no longer running/),
    ])
    l.release()
  })

  it('treats a reused pid (another start time) or another boot as dead', () => {
    const root = repoDir()
    fakeLock(root, 'shared-a.lock', {pid: process.pid, host: hostname(), mode: 'shared', procStart: '1'})
    fakeLock(root, 'shared-b.lock', {pid: process.pid, host: hostname(), mode: 'shared', bootId: 'another-boot'})
    fakeLock(root, 'shared-c.lock', {pid: process.pid, host: hostname(), mode: 'shared', procStart: processStart(process.pid)})
    expect(listRepoLocks(root).map((l) => [l.file, l.state])).toEqual([['shared-a.lock', 'dead'], ['shared-b.lock', 'dead'], ['shared-c.lock', 'live']])
  })

  it('leaves locks of other hosts to velo unlock, after the timeout', async () => {
    const root = repoDir()
    fakeLock(root, 'shared-fresh.lock', {pid: 1, host: 'elsewhere', mode: 'shared'}, 60_000)
    fakeLock(root, 'shared-old.lock', {pid: 1, host: 'elsewhere', mode: 'shared'}, 31 * 60_000)
    expect(listRepoLocks(root).map((l) => l.state)).toEqual(['remote', 'stale'])
    await expect(acquireRepoLock(root, 'exclusive', {command: 'gc', waitMs: 0})).rejects.toMatchObject({code: 'ERR_VELO_LOCKED', hint: expect.stringMatching(/velo unlock/)})
    // The failed attempt took its own exclusive.lock back.
    expect(readdirSync(join(root, 'locks')).sort()).toEqual(['shared-fresh.lock', 'shared-old.lock'])
    const r = unlockRepo(root)
    expect(r.removed.map((x) => x.file)).toEqual(['shared-old.lock'])
    expect(r.kept).toEqual([expect.objectContaining({file: 'shared-fresh.lock', state: 'remote'})])
    expect(unlockRepo(root, {staleMs: 30_000}).removed.map((x) => x.file)).toEqual(['shared-fresh.lock'])
    expect(readdirSync(join(root, 'locks'))).toEqual([])
  })

  it('refreshes a held lock (its mtime moves)', async () => {
    const root = repoDir()
    const l = await acquireRepoLock(root, 'shared', {command: 'push', refreshMs: 20})
    const t = new Date(Date.now() - 3_600_000)
    utimesSync(l.path, t, t)
    await new Promise((r) => setTimeout(r, 100))
    expect(listRepoLocks(root)[0].ageMs).toBeLessThan(60_000)
    l.release()
  })
})
