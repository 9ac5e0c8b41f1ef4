/**
 * Several writers on one repository: two snapshots at once both succeed; a ref lock left by a dead
 * process is broken with a warning; one held by a live process is ERR_VELO_LOCKED naming the holder.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {snapshot} from '../../src/api/snapshot.js'
import {Repository} from '../../src/repo/Repository.js'
import {VeloError} from '../../src/util/errors.js'
import {checkRepository} from '../helpers/repoCheck.js'
import {RandomStream, makeTree, useScratchDir, writeRandomFile} from '../helpers/trees.js'
import {BIN} from '../helpers/velo.js'

function runVelo(args: string[]): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], {env: {...process.env, NO_COLOR: '1', VELO_FSYNC: '0'}})
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    p.on('error', reject)
    p.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$'], {encoding: 'utf8'})
  return Number(r.stdout.trim())
}

describe('concurrent writers', () => {
  const scratch = useScratchDir('velo-concurrency-')
  const repoPath = join(scratch.path, 'repo')
  const trees = [join(scratch.path, 'tree-a'), join(scratch.path, 'tree-b')]
  let sleeper: ChildProcess | undefined

  beforeAll(() => {
    trees.forEach((t, i) => {
      const rs = new RandomStream(`conc-${i}`)
      const spec: Record<string, Buffer | {dir: Record<string, Buffer>}> = {shared: Buffer.from('the same in both trees\n')}
      for (let d = 0; d < 5; d++) spec[`d${d}`] = {dir: Object.fromEntries(Array.from({length: 150}, (_, f) => [`f${f}`, rs.next(100 + f * 13)]))}
      makeTree(t, spec)
      writeRandomFile(join(t, 'big.bin'), 40 << 20, `conc-big-${i}`) // enough work to overlap
      writeRandomFile(join(t, 'common.bin'), 3 << 20, 'conc-common') // identical content in both
    })
    Repository.open(repoPath, {create: true}).close()
  })

  afterAll(() => {
    sleeper?.kill('SIGKILL')
    scratch.cleanup()
  })

  it('two snapshots of different trees into one repository at once both succeed', async () => {
    const [a, b] = await Promise.all(trees.map((t, i) => runVelo(['snapshot', t, '--repo', repoPath, '--ref', `conc/${i}`])))
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    const repo = Repository.open(repoPath)
    try {
      expect(repo.refs.list().map((r) => r.name)).toEqual(['conc/0', 'conc/1'])
      const c = checkRepository(repo)
      expect(c.refs).toBe(2)
      expect(c.files).toBe(2 * (1 + 750 + 2) - 2) // `shared` and `common.bin` are the same object in both
    } finally {
      repo.close()
    }
  })

  it('breaks a ref lock left by a dead process, with a warning naming it', async () => {
    const repo = Repository.open(repoPath)
    try {
      const pid = deadPid()
      const lock = join(repoPath, 'refs', 'conc', '0.lock')
      writeFileSync(lock, JSON.stringify({pid, host: hostname(), started: new Date(Date.now() - 60_000).toISOString(), command: 'snapshot'}) + '\n')
      const warnings: string[] = []
      writeFileSync(join(trees[0], 'changed.txt'), 'x')
      const s = await snapshot(repo, {dir: trees[0], ref: 'conc/0', onWarning: (w) => warnings.push(w)})
      expect(repo.refs.read('conc/0')).toBe(s.id)
      expect(warnings.join('\n')).toMatch(new RegExp(`stale lock .*0\\.lock.* ${pid}`))
    } finally {
      repo.close()
    }
  })

  it('a ref lock held by a live process is ERR_VELO_LOCKED with the holder, and the ref does not move', async () => {
    sleeper = spawn('sleep', ['60'])
    const repo = Repository.open(repoPath)
    try {
      const before = repo.refs.read('conc/1')
      const lock = join(repoPath, 'refs', 'conc', '1.lock')
      writeFileSync(lock, JSON.stringify({pid: sleeper.pid, host: hostname(), started: '2030-01-01T00:00:00.000Z', command: 'velo ref set conc/1 x'}) + '\n')
      writeFileSync(join(trees[1], 'changed.txt'), 'y')
      let err: unknown
      try {
        await snapshot(repo, {dir: trees[1], ref: 'conc/1'})
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(VeloError)
      const e = err as VeloError
      expect(e.code).toBe('ERR_VELO_LOCKED')
      expect(e.exitCode).toBe(11)
      expect(e.message).toContain(`process ${sleeper.pid} on ${hostname()}`)
      expect(e.message).toContain('velo ref set conc/1 x')
      expect(e.hint).toMatch(/rm .*1\.lock|velo unlock/)
      expect(repo.refs.read('conc/1')).toBe(before)
    } finally {
      repo.close()
    }
  })
})
