/**
 * kill -9 at random points (and at every named crash point) of snapshot, gc, repack, push and
 * fsck --repair: afterwards fsck is clean, every ref reported as updated resolves, every file of
 * every ref reads back, and the next command breaks the dead process's lock by itself.
 */
import {spawn} from 'node:child_process'
import {cpSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {snapshot} from '../../src/api/snapshot.js'
import {fsck} from '../../src/maintenance/fsck.js'
import {repack} from '../../src/maintenance/repack.js'
import type {Oid} from '../../src/objects/oid.js'
import {Repository} from '../../src/repo/Repository.js'
import {checkRepository} from '../helpers/repoCheck.js'
import {makeTree, scratchDir, writeRandomFile} from '../helpers/trees.js'
import {BIN, veloOk} from '../helpers/velo.js'
import {files} from '../helpers/maintenance.js'

const scratch = scratchDir('velo-crash-')
afterAll(() => scratch.cleanup())

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

/** Runs velo; kills it with SIGKILL after `killAfterMs` (if still running). */
function run(args: string[], o: {killAfterMs?: number; env?: Record<string, string>} = {}): Promise<Run> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], {env: {...process.env, VELO_FSYNC: '0', NO_COLOR: '1', ...o.env}})
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    const timer = o.killAfterMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), o.killAfterMs)
    p.on('error', reject)
    p.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      resolve({code, signal, stdout, stderr, ms: Date.now() - started})
    })
  })
}

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

async function assertSound(repoPath: string, expectRefs: Map<string, string>, what: string): Promise<void> {
  const repo = Repository.open(repoPath)
  try {
    const r = await fsck(repo)
    if (!r.ok) throw new Error(`${what}: fsck found ${JSON.stringify(r.problems.slice(0, 5), null, 1)}`)
    // A ref reported as moved still points there, or at a later snapshot (of a run killed after it
    // moved the ref but before it printed) whose history contains the reported one.
    for (const [ref, id] of expectRefs) {
      let cur = repo.refs.read(ref)
      for (let hops = 0; cur && cur !== id && hops < 100; hops++) cur = repo.readSnapshot(cur as Oid).parents[0]
      if (cur !== id) throw new Error(`${what}: ref ${ref} is ${repo.refs.read(ref)}, which does not descend from the reported ${id}`)
    }
    checkRepository(repo)
  } finally {
    repo.close()
  }
}

describe('kill -9 at any point loses nothing', () => {
  it('snapshot, gc, repack and repair killed at random and at every crash point (56 trials)', async () => {
    const d = scratch.path
    const repo = join(d, 'repo')
    const tree = join(d, 'tree')
    makeTree(tree, {...files('a', 120), lib: {dir: files('l', 50)}, deep: {dir: {x: {dir: files('x', 30)}}}})
    writeRandomFile(join(tree, 'big.bin'), (2 << 20) + 300_000, 'crash-0') // chunked
    const reported = new Map<string, string>()
    const random = rng(8)
    let trials = 0
    let brokeStaleLock = false
    const mutate = (i: number): void => {
      for (let k = 0; k < 5; k++) writeFileSync(join(tree, `a${(i * 7 + k) % 120}.txt`), `trial ${i} change ${k}\n`)
      mkdirSync(join(tree, 'new'), {recursive: true})
      writeFileSync(join(tree, 'new', `n${i}.txt`), `new file of trial ${i}\n`.repeat(50))
      if (i % 5 === 0) writeRandomFile(join(tree, 'big.bin'), (2 << 20) + 300_000, `crash-${i}`)
    }
    const note = (r: Pick<Run, 'stderr'>): void => {
      if (/removed a stale (shared|exclusive) lock/.test(r.stderr)) brokeStaleLock = true
    }
    // Durations of unkilled runs, to spread the kills over the whole run.
    const first = await run(['snapshot', tree, '--repo', repo, '--ref', 'main', '--json'])
    expect(first.code).toBe(0)
    reported.set('main', JSON.parse(first.stdout.trim().split('\n').pop()!).id)
    const snapMs = first.ms

    // 1. snapshot, killed at random.
    for (let i = 0; i < 22; i++, trials++) {
      mutate(i)
      const ref = i % 3 === 0 ? 'main' : `side/${i % 4}`
      const r = await run(['snapshot', tree, '--repo', repo, '--ref', ref, '--json'], {killAfterMs: Math.floor(random() * snapMs * 1.2)})
      note(r)
      const last = r.stdout.trim().split('\n').pop() ?? ''
      if (r.code === 0) reported.set(ref, JSON.parse(last).id)
      else expect(r.signal).toBe('SIGKILL')
      await assertSound(repo, reported, `snapshot trial ${i} (killed: ${r.signal === 'SIGKILL'})`)
    }

    // Garbage for gc to delete and small packs for repack to merge, recreated before each trial
    // (in-process: quicker than spawning).
    const makeWork = async (i: number, mix: boolean): Promise<void> => {
      const r = Repository.open(repo)
      try {
        for (let k = 0; k < 3; k++) {
          mutate(100 + i * 3 + k)
          const s = await snapshot(r, {dir: tree, ref: `tmp/${k}`, onWarning: (m) => note({stderr: m})})
          r.refs.update(`tmp/${k}`, {to: null, expect: s.id, command: 'test'})
        }
        // Garbage mixed with live objects in the same packs, so that gc rewrites packs.
        if (mix) await repack(r)
      } finally {
        r.close()
      }
    }

    // 2. gc and repack at every crash point, then at random.
    const points = ['gc:reflog-expired', 'rewrite:meta-written', 'rewrite:data-written', 'rewrite:committed', 'remove:idx-removed', 'remove:pack-removed']
    const commands: [string, string[]][] = [
      ['gc', ['gc', '--prune', 'now', '--reflog-expire', 'now']],
      ['repack', ['repack', '--all']],
    ]
    const hit = new Set<string>()
    for (const [name, args] of commands) {
      for (const point of points) {
        if (name === 'repack' && point === 'gc:reflog-expired') continue
        await makeWork(trials, name === 'gc')
        const r = await run([...args, '--repo', repo], {env: {VELO_FAILPOINT: point}})
        note(r)
        // Whether a point is on the path depends on what there is to do (a gc may only remove
        // packs, never rewrite one): a run that does not reach it must still succeed.
        if (r.signal === 'SIGKILL') hit.add(point)
        else expect(r.code, `${name} at ${point}: ${r.stderr}`).toBe(0)
        await assertSound(repo, reported, `${name} killed at ${point}`)
        trials++
      }
    }
    expect([...hit].sort()).toEqual([...points].sort())
    const durations: number[] = []
    for (const [name, args] of commands) {
      await makeWork(trials, name === 'gc')
      const clean = await run([...args, '--repo', repo, '--json'])
      expect(clean.code, clean.stderr).toBe(0)
      durations.push(clean.ms)
    }
    for (let i = 0; i < 16; i++, trials++) {
      const [name, args] = commands[i % 2]
      await makeWork(trials, name === 'gc')
      const r = await run([...args, '--repo', repo], {killAfterMs: Math.floor(random() * durations[i % 2] * 1.2)})
      note(r)
      if (r.code !== 0) expect(r.signal).toBe('SIGKILL')
      await assertSound(repo, reported, `${name} trial ${i} (killed: ${r.signal === 'SIGKILL'})`)
    }

    // 3. push to a directory remote, killed at random: both repositories stay sound, and the
    // remote ref names a complete snapshot.
    const remote = join(d, 'remote')
    veloOk(['remote', 'add', 'origin', remote, '--repo', repo])
    mutate(900)
    await makeWork(900, false)
    const clean = await run(['push', 'origin', 'main', '--repo', repo, '--json'])
    expect(clean.code, clean.stderr).toBe(0)
    for (let i = 0; i < 6; i++, trials++) {
      mutate(901 + i)
      const r0 = Repository.open(repo)
      try {
        const s = await snapshot(r0, {dir: tree, ref: 'main'})
        reported.set('main', s.id)
      } finally {
        r0.close()
      }
      const r = await run(['push', 'origin', 'main', '--repo', repo], {killAfterMs: Math.floor(random() * clean.ms * 1.2)})
      if (r.code !== 0) expect(r.signal, r.stderr).toBe('SIGKILL')
      await assertSound(repo, reported, `push trial ${i} (killed: ${r.signal === 'SIGKILL'})`)
      await assertSound(remote, new Map(), `the remote after push trial ${i}`)
    }

    // 4. fsck --repair killed after salvaging: the damaged pack and its copy are both there.
    const {readdirSync} = await import('node:fs')
    const {flipByte} = await import('../helpers/trees.js')
    const backup = join(d, 'backup')
    rmSync(backup, {recursive: true, force: true})
    cpSync(repo, backup, {recursive: true})
    const pack = readdirSync(join(repo, 'packs')).find((f) => f.startsWith('d-') && f.endsWith('.pack'))!
    flipByte(join(repo, 'packs', pack), 100)
    const killed = await run(['fsck', '--repair', '--repo', repo], {env: {VELO_FAILPOINT: 'repair:salvaged'}})
    expect(killed.signal).toBe('SIGKILL')
    trials++
    const repaired = await run(['fsck', '--repair', '--from', backup, '--repo', repo, '--json'])
    note(repaired)
    expect(repaired.code, repaired.stdout + repaired.stderr).toBe(0)
    await assertSound(repo, reported, 'after repair')

    // A clean gc at the end still finds the repository whole, and the stale locks were broken.
    veloOk(['gc', '--repo', repo])
    await assertSound(repo, reported, 'final')
    expect(brokeStaleLock).toBe(true)
    expect(trials).toBeGreaterThanOrEqual(50)
  }, 600_000)
})
