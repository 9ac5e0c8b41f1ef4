/**
 * velo run / replay / verify / key generate through the CLI: exit codes (the command's, 127, 130,
 * 20, 13), --json output, a real SIGINT, signed snapshots. Real FUSE mounts (the default path).
 */
import {spawn} from 'node:child_process'
import {mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {mountsUnder} from '../helpers/mounts.js'
import {BIN, lastLine, tmpDir, velo, veloOk} from '../helpers/velo.js'

function workspace(d: string): string {
  const ws = join(d, 'ws')
  mkdirSync(ws)
  writeFileSync(join(ws, 'in.txt'), 'input\n')
  return ws
}

const runMounts = (): string[] => mountsUnder(tmpdir()).map((m) => m.mountpoint).filter((m) => m.includes('/velo-run-'))

describe('velo run CLI', () => {
  it('passes the exit code and output through, and with --json ends with a summary line', () => {
    const d = tmpDir()
    const ws = workspace(d)
    const repo = join(d, 'repo')
    const r = velo(['run', '--repo', repo, '--in', ws, '--ref', 'job', '--json', '--', 'sh', '-c', 'cat in.txt; echo out > out.txt; echo oops >&2; exit 7'])
    expect(r.code).toBe(7)
    const summary = JSON.parse(lastLine(r.stdout))
    expect(summary).toMatchObject({type: 'summary', ref: 'job', exitCode: 7, changes: {added: 1}})
    expect(summary.record).toMatchObject({exitCode: 7, argv: ['sh', '-c', expect.any(String)], trace: {count: 2, paths: ['in.txt', 'out.txt']}})
    expect(r.stdout.trim().split('\n')).toHaveLength(1) // the command's stdout went to stderr
    expect(r.stderr).toContain('input\n')
    expect(r.stderr).toContain('oops\n')
    // Without --json: the command's stdout on stdout, velo's summary on stderr ending with the id.
    const h = velo(['run', '--repo', repo, '--in', 'job', '--', 'cat', 'out.txt'])
    expect(h.code).toBe(0)
    expect(h.stdout).toBe('out\n')
    expect(lastLine(h.stderr)).toMatch(/^[0-9a-f]{64}$/)
    expect(veloOk(['diff', 'job', '--repo', repo]).stdout).toBe('')
    expect(veloOk(['diff', 'job~1', '--repo', repo]).stdout).toBe('A\tout.txt\n')
    // A command that is not found is not run, not recorded: 127, the ref stays.
    const before = veloOk(['log', '--runs', 'job', '--json', '--repo', repo]).stdout
    const nf = velo(['run', '--repo', repo, '--in', 'job', '--', 'no-such-command-xyz'])
    expect(nf.code).toBe(127)
    expect(nf.stderr).toMatch(/^velo: error: command not found: no-such-command-xyz/)
    expect(veloOk(['log', '--runs', 'job', '--json', '--repo', repo]).stdout).toBe(before)
    expect(runMounts()).toEqual([])
  })

  it('records a run interrupted by SIGINT (exit 130) and leaves nothing mounted', async () => {
    const d = tmpDir()
    const ws = workspace(d)
    const repo = join(d, 'repo')
    const child = spawn(process.execPath, [BIN, 'run', '--repo', repo, '--in', ws, '--ref', 'long', '--', 'sh', '-c', 'echo partial > p.txt; echo started; exec sleep 60'], {
      env: {...process.env, VELO_FSYNC: '0'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const code = await new Promise<number | null>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        if (b.toString().includes('started')) child.kill('SIGINT')
      })
      child.on('error', reject)
      child.on('exit', (c) => resolve(c))
      setTimeout(() => reject(new Error(`no exit: ${stderr}`)), 90_000).unref()
    })
    expect(code, stderr).toBe(130)
    const show = JSON.parse(veloOk(['show', 'long', '--json', '--repo', repo]).stdout)
    expect(show.record).toMatchObject({interrupted: true, signal: 'SIGINT', exitCode: null})
    expect(show.status).toBe(130)
    expect(veloOk(['diff', 'long', '--repo', repo]).stdout).toBe('A\tp.txt\n')
    expect(runMounts()).toEqual([])
    expect(readdirSync(join(repo, 'leases'))).toEqual([])
  })

  it('signs snapshots and runs; replay and verify report through their exit codes', () => {
    const d = tmpDir()
    const ws = workspace(d)
    const repo = join(d, 'repo')
    const key = JSON.parse(veloOk(['key', 'generate', '--json', '--repo', repo]).stdout)
    expect(key.fingerprint).toMatch(/^ed25519:/)
    expect(readFileSync(join(repo, 'velo.json'), 'utf8')).toContain('"signingKey": "keys/ed25519"')
    veloOk(['snapshot', ws, '--ref', 'base', '--sign', '--repo', repo, '-q'])
    expect(JSON.parse(veloOk(['show', 'base', '--json', '--repo', repo]).stdout).signed).toBe(true)
    veloOk(['run', '--repo', repo, '--in', 'base', '--ref', 'rand', '--sign', '-q', '--', 'sh', '-c', 'od -An -N8 -tx8 /dev/urandom > r.txt'])
    const rp = velo(['replay', 'rand', '--json', '--repo', repo])
    expect(rp.code).toBe(20)
    const res = JSON.parse(lastLine(rp.stdout))
    expect(res.paths).toEqual([{path: 'r.txt', status: 'different', recorded: 'A', replayed: 'A'}])
    const ok = JSON.parse(veloOk(['verify', '--require-signed', '--json', '--repo', repo]).stdout)
    expect(ok).toMatchObject({ok: true, runs: 1, signatures: {valid: 2, invalid: 0}})
    // A second run, unsigned: --require-signed names it.
    veloOk(['run', '--repo', repo, '--in', 'base', '--ref', 'plain', '-q', '--', 'true'])
    const bad = velo(['verify', '--require-signed', '--repo', repo])
    expect(bad.code).toBe(13)
    expect(bad.stdout).toMatch(/^unsigned\trun record [0-9a-f]{64} is not signed\n\treached from ref plain$/m)
  })
})
