/** Helpers for end-to-end tests: spawn the built CLI with an isolated HOME and repository. */
import {spawnSync, type SpawnSyncReturns} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {onTestFinished} from 'vitest'

export const ROOT = resolve(import.meta.dirname, '../..')
export const BIN = join(ROOT, 'bin/run.js')

export interface VeloRun {
  code: number
  stdout: string
  stderr: string
}

export function tmpDir(prefix = 'velo-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  onTestFinished(() => rmSync(d, {recursive: true, force: true}))
  return d
}

export function velo(args: string[], opts: {env?: Record<string, string>; cwd?: string; input?: string; timeout?: number; nodeArgs?: string[]} = {}): VeloRun {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...args], {
    cwd: opts.cwd,
    env: {...process.env, VELO_FSYNC: '0', NO_COLOR: '1', ...opts.env},
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeout ?? 100_000,
    maxBuffer: 256 << 20,
  })
  if (r.error) throw r.error
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

/** Runs velo and fails the test with its output when the exit code is not `code`. */
export function veloOk(args: string[], opts: Parameters<typeof velo>[1] = {}, code = 0): VeloRun {
  const r = velo(args, opts)
  if (r.code !== code) throw new Error(`velo ${args.join(' ')} exited ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r
}

export function lastLine(s: string): string {
  const lines = s.trim().split('\n')
  return lines[lines.length - 1]
}
