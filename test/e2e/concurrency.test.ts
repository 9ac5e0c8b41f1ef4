/**
 * Eight `velo snapshot`s of different trees into one repository at once, plus a `velo gc --prune
 * now` that wants to delete old unreachable objects the snapshots are about to reuse (the classic
 * gc/writer race): every command succeeds, nothing is lost, fsck is clean.
 */
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {snapshot} from '../../src/api/snapshot.js'
import {fsck} from '../../src/maintenance/fsck.js'
import {Repository} from '../../src/repo/Repository.js'
import {DAY, agePacks, files} from '../helpers/maintenance.js'
import {checkRepository} from '../helpers/repoCheck.js'
import {makeTree, scratchDir} from '../helpers/trees.js'
import {BIN} from '../helpers/velo.js'

const scratch = scratchDir('velo-conc-')
afterAll(() => scratch.cleanup())

function run(args: string[], env: Record<string, string> = {}, onStderr?: (s: string) => void): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], {env: {...process.env, VELO_FSYNC: '0', NO_COLOR: '1', ...env}})
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => {
      stderr += d
      onStderr?.(stderr)
    })
    p.on('error', reject)
    p.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

describe('concurrent commands', () => {
  it('8 parallel snapshots and a gc: all succeed, nothing is lost, fsck is clean', async () => {
    const d = scratch.path
    const repoPath = join(d, 'repo')
    const repo = Repository.open(repoPath, {create: true})
    // Old garbage whose contents the new trees share: gc wants to delete exactly what they dedup against.
    const shared = files('shared', 40)
    makeTree(join(d, 'old'), shared)
    const old = await snapshot(repo, {dir: join(d, 'old'), ref: 'old'})
    repo.refs.update('old', {to: null, expect: old.id, command: 'test'})
    agePacks(repo, 30 * DAY)
    repo.close()
    const trees: string[] = []
    for (let i = 0; i < 8; i++) {
      const t = join(d, `tree${i}`)
      // Each tree reuses its own five of the old files (a later snapshot cannot restore another's).
      const mine = Object.fromEntries(Object.entries(shared).slice(i * 5, i * 5 + 5))
      makeTree(t, {...mine, ...files(`own${i}-`, 55), sub: {dir: files(`sub${i}-`, 20)}})
      trees.push(t)
    }
    // gc pauses between marking and deleting (VELO_FAILPOINT_SLEEP), and the snapshots start
    // meanwhile: without the repository lock, they would reuse objects gc has judged unreachable,
    // and lose them (this test fails when snapshot does not take the lock).
    let marked: () => void = () => {}
    const gcMarked = new Promise<void>((r) => (marked = r))
    const gcRun = run(['gc', '--prune', 'now', '--reflog-expire', 'now', '--repo', repoPath, '--json'], {VELO_FAILPOINT_SLEEP: 'gc:marked:3000'}, (e) => {
      if (e.includes('failpoint gc:marked reached')) marked()
    })
    await gcMarked
    const snaps = trees.map((t, i) => run(['snapshot', t, '--repo', repoPath, '--ref', `t/${i}`, '--json']))
    const results = await Promise.all([...snaps, gcRun])
    for (const r of results) expect(r.code, r.stderr).toBe(0)
    const gc = JSON.parse(results[8].stdout.trim().split('\n').pop()!) // the summary (progress lines come first on a slow machine)
    expect(gc.dryRun).toBe(false)

    const after = Repository.open(repoPath)
    try {
      expect(await fsck(after)).toMatchObject({ok: true, problems: []})
      expect(checkRepository(after)).toMatchObject({refs: 8, files: 8 * 80})
      // Every ref holds exactly its tree: snapshotting the directory again gives the same tree.
      for (let i = 0; i < 8; i++) {
        const id = JSON.parse(results[i].stdout.trim().split('\n').pop()!).id
        expect(after.refs.read(`t/${i}`)).toBe(id)
        const again = await snapshot(after, {dir: trees[i], noRef: true})
        expect(again.tree).toBe(after.readSnapshot(id).tree)
      }
    } finally {
      after.close()
    }
  }, 300_000)
})
