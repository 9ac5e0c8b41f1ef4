/**
 * A repository on a 20 MiB tmpfs (the tests run as root, as CI does): a snapshot that does not fit
 * fails with ERR_VELO_DISK_FULL (exit 18) and leaves the repository as it was: fsck clean, earlier
 * refs whole, no temporary files, no half-written packs, no locks; the space comes back.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {fsck} from '../../src/maintenance/fsck.js'
import {Repository} from '../../src/repo/Repository.js'
import {checkRepository} from '../helpers/repoCheck.js'
import {makeTree, scratchDir, writeRandomFile} from '../helpers/trees.js'
import {lastLine, velo, veloOk} from '../helpers/velo.js'
import {files} from '../helpers/maintenance.js'

const scratch = scratchDir('velo-full-')
const mnt = join(scratch.path, 'mnt')

beforeAll(() => {
  mkdirSync(mnt)
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`cannot mount a tmpfs (the disk-full test needs root): ${r.stderr}`)
})
afterAll(() => {
  spawnSync('umount', [mnt])
  scratch.cleanup()
})

describe('disk full', () => {
  it('a snapshot that does not fit fails with ERR_VELO_DISK_FULL; the repository stays consistent', async () => {
    const repo = join(mnt, 'repo')
    const small = join(scratch.path, 'small')
    makeTree(small, {...files('s', 50), sub: {dir: files('t', 20)}})
    const first = JSON.parse(lastLine(veloOk(['snapshot', small, '--repo', repo, '--ref', 'small', '--json']).stdout))

    // 30 MiB that does not compress: one chunked file and many small ones.
    const big = join(scratch.path, 'big')
    mkdirSync(big)
    writeRandomFile(join(big, 'large.bin'), 24 << 20, 'full-large')
    for (let i = 0; i < 300; i++) writeRandomFile(join(big, `f${i}.bin`), 20_000, `full-${i}`)
    const r = velo(['snapshot', big, '--repo', repo, '--ref', 'big', '--json'])
    expect(r.code, r.stdout + r.stderr).toBe(18)
    expect(JSON.parse(lastLine(r.stdout)).error).toMatchObject({code: 'ERR_VELO_DISK_FULL', hint: expect.stringMatching(/free some space/)})
    const human = velo(['snapshot', big, '--repo', repo, '--ref', 'big'])
    expect(human.code).toBe(18)
    expect(human.stderr).toMatch(/^velo: error: disk full while .*\nhint: free some space/m) // after any progress lines

    const after = Repository.open(repo)
    try {
      expect(await fsck(after)).toMatchObject({ok: true, problems: [], warnings: []})
      expect(after.refs.read('big')).toBeUndefined()
      expect(after.refs.read('small')).toBe(first.id)
      expect(checkRepository(after).files).toBe(70)
    } finally {
      after.close()
    }
    expect(readdirSync(join(repo, 'tmp'))).toEqual([])
    expect(readdirSync(join(repo, 'locks'))).toEqual([])
    const packs = readdirSync(join(repo, 'packs'))
    expect(packs.filter((f) => f.endsWith('.pack')).length).toBe(packs.filter((f) => f.endsWith('.idx')).length)

    // Maintenance still works, and the space is there again: a 12 MiB snapshot fits.
    veloOk(['gc', '--prune', 'now', '--repo', repo])
    const medium = join(scratch.path, 'medium')
    mkdirSync(medium)
    writeRandomFile(join(medium, 'm.bin'), 12 << 20, 'full-medium')
    veloOk(['snapshot', medium, '--repo', repo, '--ref', 'medium'])
    veloOk(['fsck', '--repo', repo])
  })
})
