/**
 * Crash safety: `velo snapshot` killed with SIGKILL at moments spread over its run (startup, walk,
 * hashing, pack and index writes, snapshot, ref move, stat cache) must leave a repository that
 * opens, in which every ref resolves to a complete, verified tree, and where the next snapshot works.
 */
import {spawn, spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, readdirSync, watch, writeFileSync, type FSWatcher} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Oid} from '../../src/objects/oid.js'
import {Repository} from '../../src/repo/Repository.js'
import {restoreTree} from '../../src/restore/restoreTree.js'
import {checkRepository} from '../helpers/repoCheck.js'
import {RandomStream, makeTree, useScratchDir, writeRandomFile} from '../helpers/trees.js'
import {BIN} from '../helpers/velo.js'

const TRIALS = 12

/** Steps of a snapshot's write order, seen as file events in the repository. */
const STEPS: KillOn[] = [
  {dir: 'tmp', match: /pack/},
  {dir: 'packs', match: /^d-.*\.pack$/},
  {dir: 'packs', match: /\.idx$/},
  {dir: 'refs/crash', match: /\.lock$/},
  {dir: 'refs/crash', match: /^test$/},
  {dir: 'cache/stat', match: /./},
]

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  ms: number
  stdout: string
  stderr: string
}

interface KillOn {
  /** Directory to watch (inotify), relative to the repository. */
  dir: string
  /** Kill on the nth event whose file name matches. */
  match: RegExp
  nth?: number
}

/**
 * Runs `velo snapshot`, killing it with SIGKILL after killAfterMs, or as soon as a file event in the
 * repository shows it reached a given step (the kill lands a moment after that step).
 */
function snapshotProcess(tree: string, repo: string, kill: {afterMs?: number; on?: KillOn} = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const start = Date.now()
    const p = spawn(process.execPath, [BIN, 'snapshot', tree, '--repo', repo, '--ref', 'crash/test'], {
      env: {...process.env, NO_COLOR: '1', VELO_FSYNC: '0'},
    })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    const timer = kill.afterMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), kill.afterMs)
    let watcher: FSWatcher | undefined
    if (kill.on) {
      const on = kill.on
      let seen = 0
      watcher = watch(join(repo, on.dir), (_event, name) => {
        if (name && on.match.test(String(name)) && ++seen === (on.nth ?? 1)) p.kill('SIGKILL')
      })
    }
    p.on('error', reject)
    p.on('close', (code, signal) => {
      clearTimeout(timer)
      watcher?.close()
      resolve({code, signal, ms: Date.now() - start, stdout, stderr})
    })
  })
}

describe('kill -9 during velo snapshot', () => {
  const scratch = useScratchDir('velo-crash-')
  const tree = join(scratch.path, 'tree')
  const repo = join(scratch.path, 'repo')
  const rs = new RandomStream('crash')
  let round = 0

  /** Changes part of the tree so that every snapshot has new content to store. */
  function mutate(): void {
    round++
    for (let d = 0; d < 8; d++) {
      for (let f = round % 3; f < 60; f += 7) writeFileSync(join(tree, `d${d}`, `f${f}.txt`), rs.next(200 + ((d * f + round) % 4000)))
    }
    writeRandomFile(join(tree, 'big.bin'), 4 << 20, `big-${round}`)
    writeFileSync(join(tree, `added-${round}.txt`), `round ${round}\n`)
  }

  beforeAll(() => {
    const spec: Record<string, {dir: Record<string, string>}> = {}
    for (let d = 0; d < 8; d++) spec[`d${d}`] = {dir: Object.fromEntries(Array.from({length: 60}, (_, f) => [`f${f}.txt`, `file ${d}/${f}\n`]))}
    makeTree(tree, spec)
    writeRandomFile(join(tree, 'big.bin'), 4 << 20, 'big-0')
  })

  afterAll(() => scratch.cleanup())

  it(`leaves a whole repository at every one of ${TRIALS} kill points, and the next snapshot works`, async () => {
    // uninterrupted runs first: a cold one, then an incremental one like the trials, timed
    const cold = await snapshotProcess(tree, repo)
    expect(cold.code, cold.stderr).toBe(0)
    for (const d of ['tmp', 'cache/stat']) mkdirSync(join(repo, d), {recursive: true})
    mutate()
    const full = await snapshotProcess(tree, repo)
    expect(full.code, full.stderr).toBe(0)
    const outcomes: string[] = []
    for (let i = 0; i < TRIALS; i++) {
      mutate()
      // Half the kill points are spread over the run (with jitter), half follow the steps of the
      // write order: pack data, its index, the metadata pack's index, the ref lock, the ref, the cache.
      const step = STEPS[(i >> 1) % STEPS.length]
      const at = Math.round(full.ms * 1.3 * (0.1 + (i + Math.random()) / TRIALS))
      const kill = i % 2 === 0 ? {afterMs: at} : {on: step}
      const refBefore = readFileSync(join(repo, 'refs', 'crash', 'test'), 'utf8')
      const packsBefore = readdirSync(join(repo, 'packs')).length
      const run = await snapshotProcess(tree, repo, kill)
      // what the killed process got to: new packs, the ref, leftovers in tmp/ and locks
      const state = [
        `+${readdirSync(join(repo, 'packs')).length - packsBefore} pack files`,
        readFileSync(join(repo, 'refs', 'crash', 'test'), 'utf8') === refBefore ? 'ref unmoved' : 'ref moved',
        `${readdirSync(join(repo, 'tmp')).length} in tmp`,
        `${readdirSync(join(repo, 'refs', 'crash')).filter((n) => n.endsWith('.lock')).length} ref locks`,
      ].join(' ')
      const when = kill.on ? `on ${kill.on.dir}/${kill.on.match.source} #${kill.on.nth ?? 1}` : `at ${at} ms`
      outcomes.push(run.signal === 'SIGKILL' ? `killed ${when} (${run.ms} ms): ${state}` : `finished (${run.code}) before ${when}`)
      if (run.signal !== 'SIGKILL') expect(run.code, run.stderr).toBe(0)

      const r = Repository.open(repo)
      try {
        const c = checkRepository(r)
        expect(c.refs).toBe(1)
        expect(c.snapshots).toBeGreaterThanOrEqual(1)
      } finally {
        r.close()
      }
    }
    // a killed run left no lock that blocks the next one; stale locks are broken with a warning
    mutate()
    const after = await snapshotProcess(tree, repo)
    expect(after.code, `${after.stderr}\nkill points: ${outcomes.join(', ')}`).toBe(0)
    expect(after.stderr).not.toMatch(/error/)
    const id = after.stdout.trim().split('\n').pop()!
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    const r = Repository.open(repo)
    try {
      expect(r.refs.read('crash/test') as string).toBe(id)
      const c = checkRepository(r)
      expect(c.snapshots).toBeGreaterThanOrEqual(2)
      // and it is the tree on disk
      const out = join(scratch.path, 'restored')
      await restoreTree(r, r.readSnapshot(id as Oid).tree, out)
      const d = spawnSync('diff', ['-r', '--no-dereference', tree, out], {encoding: 'utf8'})
      expect(d.stdout + d.stderr).toBe('')
    } finally {
      r.close()
    }
    // every reflog line is whole JSON (a torn last line is tolerated by readers, but none is expected
    // here since each line is one append)
    const log = readFileSync(join(repo, 'logs', 'crash', 'test'), 'utf8').trim().split('\n')
    for (const line of log) expect(() => JSON.parse(line)).not.toThrow()
    expect(readdirSync(join(repo, 'refs', 'crash')).filter((n) => n.endsWith('.lock'))).toEqual([])
    console.log(`crash trials (${full.ms} ms per snapshot):\n  ${outcomes.join('\n  ')}`)
  })
})
