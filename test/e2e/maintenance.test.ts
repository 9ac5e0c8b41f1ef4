/** The maintenance commands as users and scripts see them: output, --json shapes, exit codes. */
import {cpSync, mkdirSync, readdirSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {files} from '../helpers/maintenance.js'
import {flipByte, makeTree, scratchDir} from '../helpers/trees.js'
import {lastLine, velo, veloOk} from '../helpers/velo.js'

const scratch = scratchDir('velo-maint-')
afterAll(() => scratch.cleanup())
const json = (s: string): Record<string, any> => JSON.parse(lastLine(s)) // eslint-disable-line @typescript-eslint/no-explicit-any

describe('velo fsck, gc, repack, unlock', () => {
  it('fsck reports damage with exit code 13 and repairs it from a remote', () => {
    const d = join(scratch.path, 'a')
    const repo = join(d, 'repo')
    makeTree(join(d, 't'), {...files('f', 30), sub: {dir: files('s', 10)}})
    const snap = json(veloOk(['snapshot', join(d, 't'), '--repo', repo, '--ref', 'app', '--json']).stdout)
    expect(velo(['fsck', '--repo', repo]).stdout).toMatch(/^checked 2 packs, \d+ objects .*, 1 refs, 1 reflog entries: no problems$/m)
    cpSync(repo, join(d, 'backup'), {recursive: true})
    const pack = readdirSync(join(repo, 'packs')).find((f) => f.startsWith('d-') && f.endsWith('.pack'))!
    flipByte(join(repo, 'packs', pack), 40)

    const cat = velo(['cat', 'app:f1.txt', '--repo', repo])
    expect(cat.code).toBe(13)
    expect(cat.stderr).toMatch(/^velo: error: object [0-9a-f]{64} in pack d-[0-9a-f]{64} is damaged.*\nhint: run velo fsck/)
    const human = velo(['fsck', '--repo', repo])
    expect(human.code).toBe(13)
    expect(human.stdout).toMatch(new RegExp(`^error: blob [0-9a-f]{64} in pack ${pack.slice(0, -5)}: its block at offset \\d+ is damaged .*; referenced by ref app: snapshot ${snap.id.slice(0, 12)}, path f\\d+\\.txt$`, 'm'))
    const r = velo(['fsck', '--repo', repo, '--json'])
    expect(r.code).toBe(13)
    const report = json(r.stdout)
    expect(report).toMatchObject({ok: false, complete: true})
    expect(report.problems.find((p: {kind: string}) => p.kind === 'object-damaged')).toMatchObject({id: expect.stringMatching(/^[0-9a-f]{64}$/), pack: pack.slice(0, -5), referencedBy: [expect.stringMatching(/^ref app: snapshot /)]})

    const fixed = velo(['fsck', '--repair', '--from', join(d, 'backup'), '--repo', repo, '--json'])
    expect(fixed.code, fixed.stdout).toBe(0)
    expect(json(fixed.stdout)).toMatchObject({ok: true, quarantined: [`${pack.slice(0, -5)}.idx`, pack], unrecoverable: []})
    expect(veloOk(['cat', 'app:f1.txt', '--repo', repo]).stdout).toMatch(/^f file 1/)
    expect(velo(['fsck', '--from', 'x', '--repo', repo]).code).toBe(2) // --from needs --repair
  })

  it('gc deletes, explains and dry-runs; repack merges', () => {
    const d = join(scratch.path, 'b')
    const repo = join(d, 'repo')
    makeTree(join(d, 'keep'), files('k', 10))
    makeTree(join(d, 'drop'), files('x', 10))
    veloOk(['snapshot', join(d, 'keep'), '--repo', repo, '--ref', 'keep'])
    const drop = json(veloOk(['snapshot', join(d, 'drop'), '--repo', repo, '--ref', 'drop', '--json']).stdout)
    veloOk(['ref', 'delete', 'drop', '--repo', repo])
    const explain = velo(['gc', '--explain', drop.id.slice(0, 10), '--repo', repo])
    expect(explain.stdout).toMatch(/^kept: reachable from reflog drop@\{.*\}$/m)
    const dry = json(veloOk(['gc', '--prune', 'now', '--reflog-expire', 'now', '--dry-run', '--repo', repo, '--json']).stdout)
    expect(dry).toMatchObject({dryRun: true, prune: 'now', deletedObjects: 12})
    expect(veloOk(['gc', '--prune', 'now', '--reflog-expire', 'now', '--repo', repo]).stdout).toMatch(/^deleted 12 unreachable objects/)
    expect(json(veloOk(['gc', '--explain', 'keep', '--repo', repo, '--json']).stdout)).toMatchObject({status: 'reachable', type: 'snapshot', keptBy: {root: 'keep'}})
    expect(velo(['gc', '--explain', drop.id, '--repo', repo]).code).toBe(16) // gone
    expect(velo(['gc', '--prune', 'soon', '--repo', repo]).code).toBe(2)

    for (let i = 0; i < 3; i++) {
      writeFileSync(join(d, 'keep', 'k1.txt'), `v${i}\n`)
      veloOk(['snapshot', join(d, 'keep'), '--repo', repo, '--ref', 'keep'])
    }
    const rp = json(veloOk(['repack', '--repo', repo, '--json']).stdout)
    expect(rp).toMatchObject({packsAfter: 2, newPacks: [expect.anything(), expect.anything()]})
    expect(velo(['repack', '--repo', repo]).stdout).toMatch(/^nothing to repack \(2 packs\)$/m)
    veloOk(['fsck', '--repo', repo])
  })

  it('a lock held elsewhere: a clear error naming the holder; velo unlock clears it once stale', () => {
    const d = join(scratch.path, 'c')
    const repo = join(d, 'repo')
    mkdirSync(join(d, 't'), {recursive: true})
    writeFileSync(join(d, 't', 'a'), 'a\n')
    veloOk(['snapshot', join(d, 't'), '--repo', repo])
    const lock = join(repo, 'locks', 'exclusive.lock')
    writeFileSync(lock, JSON.stringify({pid: 4242, host: 'ci-runner-7', started: '2024-01-01T00:00:00.000Z', command: 'gc', mode: 'exclusive', token: 'x'}))
    const blocked = velo(['snapshot', join(d, 't'), '--repo', repo, '--json'], {env: {VELO_LOCK_WAIT: '0'}})
    expect(blocked.code).toBe(11)
    expect(json(blocked.stdout).error).toMatchObject({code: 'ERR_VELO_LOCKED', message: expect.stringContaining('locked by process 4242 on ci-runner-7 (gc, exclusive'), hint: expect.stringContaining('velo unlock')})
    // Refreshed recently: unlock keeps it (and says why); stale: unlock removes it.
    expect(json(veloOk(['unlock', '--repo', repo, '--json']).stdout)).toMatchObject({removed: [], kept: [{file: 'exclusive.lock', state: 'remote'}]})
    const old = new Date(Date.now() - 3_600_000)
    utimesSync(lock, old, old)
    expect(veloOk(['unlock', '--repo', repo]).stdout).toMatch(/^removed exclusive\.lock: process 4242 on ci-runner-7 \(gc, since .*\), stale$/m)
    veloOk(['snapshot', join(d, 't'), '--repo', repo], {env: {VELO_LOCK_WAIT: '0'}})
  })
})
