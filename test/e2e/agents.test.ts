/**
 * docs/agents.md's worked example, run exactly as written there: three agent steps as velo runs on
 * one ref, a replay of step 2 and a verification of the chain (with real FUSE mounts, since
 * velo run mounts its input; without FUSE velo falls back to --materialize with a warning).
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BIN, ROOT, tmpDir, veloOk} from '../helpers/velo.js'

/** The script of the worked example: the sh block that starts with `# agent-pipeline.sh`. */
function exampleScript(): string {
  const doc = readFileSync(join(ROOT, 'docs/agents.md'), 'utf8')
  const m = /```sh\n(#!\/bin\/sh\n# agent-pipeline\.sh[\s\S]*?)```/.exec(doc)
  if (!m) throw new Error('docs/agents.md has no agent-pipeline.sh block')
  return m[1]
}

describe('docs/agents.md worked example', () => {
  it('runs three steps on one ref, replays step 2 identically and verifies the signed chain', () => {
    const d = tmpDir('velo-agents-')
    const bin = join(d, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'velo'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`)
    chmodSync(join(bin, 'velo'), 0o755)
    writeFileSync(join(d, 'agent-pipeline.sh'), exampleScript())
    const env: NodeJS.ProcessEnv = {...process.env, PATH: `${bin}:${process.env.PATH}`, VELO_FSYNC: '0', NO_COLOR: '1'}
    delete env.VELO_REPO
    const r = spawnSync('sh', ['agent-pipeline.sh'], {cwd: d, env, encoding: 'utf8', timeout: 110_000})
    const output = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`
    expect(r.status, output).toBe(0)
    expect(r.stdout).toMatch(/replay of [0-9a-f]{12} matches/)
    expect(r.stdout).toMatch(/^ok: 1 roots, 3 runs, /m)
    expect(r.stdout).toMatch(/AGENT_API_KEY=\[redacted\]/)
    expect(r.stdout).toContain('A\tgreet.sh')
    expect(r.stdout.trim().split('\n').pop()).toBe('hello, velo')
    expect(r.stdout + r.stderr).not.toContain('demo-key-123')

    const repo = join(d, 'velo-repo')
    const runs = JSON.parse(veloOk(['log', '--runs', 'agent/demo', '--json', '--repo', repo]).stdout) as {id: string; input: string; output: string; previous: string | null; signed: boolean; status: number; argv: string[]}[]
    expect(runs.map((x) => x.argv.at(-1))).toEqual(['test', 'code', 'plan'])
    expect(runs.every((x) => x.signed && x.status === 0)).toBe(true)
    expect(runs[0].input).toBe(runs[1].output)
    expect(runs[1].input).toBe(runs[2].output)
    expect(runs[0].previous).toBe(runs[1].id)
    expect(runs[2].previous).toBeNull()
    // The secret reached the step but not its record.
    const step2 = JSON.parse(veloOk(['show', 'agent/demo~1', '--json', '--repo', repo]).stdout) as {record: {env: Record<string, string>; redacted: string[]}; signature: {valid: boolean}}
    expect(step2.record.env.AGENT_API_KEY).toBe('[redacted]')
    expect(step2.record.redacted).toEqual(['AGENT_API_KEY'])
    expect(step2.signature.valid).toBe(true)
    expect(JSON.stringify(step2)).not.toContain('demo-key-123')
  })
})
