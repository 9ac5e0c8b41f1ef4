/**
 * Runs travel with push and pull: a ref whose latest entry is a run carries its chain, each
 * record's input and output snapshots and its stdout/stderr blobs to a directory (file://) remote
 * and back into a clone, where verify and replay work without the original repository.
 * Also: `ref set NAME RUN` holds the run, and `velo log` without REV points at the run refs.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {lastLine, tmpDir, velo, veloOk} from '../helpers/velo.js'

function ndjson(stdout: string): {type: string; [k: string]: unknown}[] {
  return stdout.trim().split('\n').map((l) => JSON.parse(l))
}

describe('runs over push and pull (directory remote)', () => {
  it('pushes a run chain, clones it, verifies and replays it there, then fast-forwards it', () => {
    const d = tmpDir()
    const a = join(d, 'a')
    const ws = join(d, 'ws')
    mkdirSync(ws)
    writeFileSync(join(ws, 'in.txt'), 'input\n')
    const step = (n: number): string =>
      JSON.parse(lastLine(veloOk(['run', '--repo', a, '--in', n === 1 ? ws : 'agent', '--ref', 'agent', '--json', '--', 'sh', '-c', `cat in.txt > s${n}.txt; echo step${n}; echo warn${n} >&2`]).stdout)).id
    const r1 = step(1)
    const r2 = step(2)
    const remote = `file://${join(d, 'remote')}`
    veloOk(['remote', 'add', 'origin', remote, '--repo', a])
    const pushed = ndjson(veloOk(['push', 'origin', 'agent', '--json', '--repo', a]).stdout)
    expect(pushed.at(-1)).toMatchObject({type: 'summary', refs: [{ref: 'agent', new: r2, status: 'created'}]})

    const b = join(d, 'b')
    veloOk(['clone', remote, b, '-q'])
    expect(veloOk(['ref', 'list', '--json', '--repo', b]).stdout).toContain(r2)
    const runs = JSON.parse(veloOk(['log', '--runs', 'agent', '--json', '--repo', b]).stdout)
    expect(runs.map((r: {id: string}) => r.id)).toEqual([r2, r1])
    // Everything the records name arrived: stdout and stderr, input and output trees.
    const shown = JSON.parse(veloOk(['show', 'agent~1', '--json', '--repo', b]).stdout)
    expect(shown).toMatchObject({id: r1})
    expect(veloOk(['cat', 'agent:s2.txt', '--repo', b]).stdout).toBe('input\n')
    expect(JSON.parse(veloOk(['verify', 'agent', '--json', '--repo', b]).stdout)).toMatchObject({ok: true, runs: 2})
    const replayed = velo(['replay', 'agent', '--json', '--repo', b])
    expect(replayed.code, replayed.stdout + replayed.stderr).toBe(0)
    expect(JSON.parse(lastLine(replayed.stdout))).toMatchObject({type: 'summary', matches: true, stdout: {equal: true}, stderr: {equal: true}})

    // A third run in a, pushed: a fast-forward of the chain; pulled into b: a fast-forward too.
    const r3 = step(3)
    const again = ndjson(veloOk(['push', 'origin', '--json', '--repo', a]).stdout)
    expect(again.at(-1)).toMatchObject({refs: [{ref: 'agent', old: r2, new: r3, status: 'fast-forward'}]})
    const pulled = ndjson(veloOk(['pull', 'origin', '--json', '--repo', b]).stdout)
    expect(pulled.at(-1)).toMatchObject({refs: [{ref: 'agent', old: r2, new: r3, status: 'fast-forward'}]})
    expect(JSON.parse(veloOk(['verify', '--json', '--repo', b]).stdout)).toMatchObject({ok: true, runs: 3})

    // ref set NAME RUN holds the run itself; velo log without REV names the run refs on stderr.
    const set = JSON.parse(veloOk(['ref', 'set', 'good', 'agent~1', '--json', '--repo', b]).stdout)
    expect(set).toMatchObject({name: 'good', new: r2})
    expect(JSON.parse(veloOk(['log', '--runs', 'good', '--json', '--repo', b]).stdout)[0].id).toBe(r2)
    const log = veloOk(['log', '--repo', b])
    expect(log.stderr).toMatch(/refs hold runs, not listed here \(.*agent.*\): velo log --runs/)
  }, 300_000)
})
