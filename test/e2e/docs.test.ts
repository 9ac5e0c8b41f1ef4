/**
 * docs/ stays true: the command reference is current, exit codes match the code, JSON shapes match
 * real output; and running each command loads no heavy module it does not use.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {heavyIn, lastJson, manifestCommands, recordModules, USES} from '../helpers/cli.js'
import {ROOT, tmpDir, veloOk} from '../helpers/velo.js'

const doc = (name: string): string => readFileSync(join(ROOT, 'docs', name), 'utf8')

/** The example last line of each `### velo CMD` section of docs/json.md. */
function documentedShapes(): Map<string, unknown> {
  const out = new Map<string, unknown>()
  const re = /^### velo (.+)\n(?:(?!### )[\s\S])*?```json\n(.+)\n```/gm
  for (const m of doc('json.md').matchAll(re)) out.set(m[1], JSON.parse(m[2]))
  return out
}

function keysOf(v: unknown): string[] {
  const o = Array.isArray(v) ? v[0] : v
  return o && typeof o === 'object' ? Object.keys(o).sort() : []
}

describe('docs', () => {
  it('docs/commands.md is generated from the current command definitions', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/gen-command-docs.js'), '--check'], {encoding: 'utf8'})
    expect(r.stderr + r.stdout).toBe('')
    expect(r.status).toBe(0)
  })

  it('docs/exit-codes.md lists every error code with its exit code', async () => {
    const {VeloError} = await import('../../src/util/errors.js')
    const codes = [...readFileSync(join(ROOT, 'src/util/errors.ts'), 'utf8').matchAll(/\| '(ERR_VELO_\w+)'/g)].map((m) => m[1])
    expect(codes.length).toBeGreaterThan(15)
    const rows = new Map([...doc('exit-codes.md').matchAll(/^\| `(ERR_VELO_\w+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]))
    for (const code of codes) {
      expect(rows.get(code), `${code} in docs/exit-codes.md`).toBe(new VeloError(code as never, 'x').exitCode)
    }
    expect([...rows.keys()].filter((c) => !codes.includes(c)), 'documented codes that do not exist').toEqual([])
  })

  it('docs/json.md has a section for every command with --json', () => {
    const shapes = documentedShapes()
    const missing = manifestCommands()
      .filter((c) => c.flags?.json)
      .map((c) => c.id.replace(/:/g, ' '))
      .filter((id) => !shapes.has(id))
    expect(missing, 'commands without a section in docs/json.md').toEqual([])
  })

  it('every command prints valid JSON of the documented shape on a small repository', {timeout: 900_000}, () => {
    const shapes = documentedShapes()
    const d = tmpDir()
    const t = join(d, 't')
    mkdirSync(join(t, 'sub'), {recursive: true})
    writeFileSync(join(t, 'a'), 'a\n')
    writeFileSync(join(t, 'sub', 'b'), 'b\n')
    symlinkSync('a', join(t, 'l'))
    const env = {VELO_REPO: join(d, 'repo')}
    const seen = new Set<string>()
    const log = join(d, 'modules.log')
    const rec = recordModules(log)
    const check = (id: string, args: string[], variant?: string): void => {
      const dash = args.includes('--') ? args.indexOf('--') : args.length
      rmSync(log, {force: true})
      const r = veloOk([...id.split(' '), ...args.slice(0, dash), '--json', ...args.slice(dash)], {env: {...env, ...rec.env}, nodeArgs: rec.nodeArgs, cwd: d})
      // Running it (not only loading it): nothing heavy it does not use (no ink without a terminal,
      // no FUSE with --materialize, no S3 client for a directory remote).
      expect(heavyIn(log).filter((m) => !(USES[id] ?? []).includes(m)), `velo ${id} --json loaded`).toEqual([])
      // NDJSON: events before the last line are progress or warning events.
      for (const e of r.stdout.trim().split('\n').slice(0, -1).map((l) => JSON.parse(l) as {type?: string})) {
        expect(['progress', 'warning'], `velo ${id} --json: ${JSON.stringify(e)}`).toContain(e.type)
      }
      const last = lastJson(r.stdout)
      const want = shapes.get(id)
      expect(want, `docs/json.md section for ${id}`).toBeDefined()
      if (Array.isArray(want) !== Array.isArray(last)) throw new Error(`${id}: documented ${JSON.stringify(want)}, got ${JSON.stringify(last)}`)
      if (!Array.isArray(last) || (last.length > 0 && (want as unknown[]).length > 0)) {
        expect(keysOf(last), `keys of velo ${id} --json${variant ? ` (${variant})` : ''}`).toEqual(keysOf(want))
      }
      seen.add(id)
    }
    check('init', [])
    check('snapshot', [t, '--ref', 'app'])
    writeFileSync(join(t, 'c'), 'c\n')
    check('snapshot', [t, '--ref', 'app'])
    check('log', [])
    check('show', ['app'])
    check('ls', ['app', '-r'])
    check('diff', ['app'])
    check('diff', ['app', t], 'with a directory')
    check('restore', ['app', join(d, 'out')])
    check('ref list', [])
    check('ref set', ['x', 'app'])
    check('ref delete', ['x'])
    check('status', [t], 'first snapshot')
    check('status', [t, '--ref', 'app'])
    check('config list', [])
    check('config get', ['compression'])
    check('config set', ['compression', '5'])
    check('config unset', ['compression'])
    check('completion', ['bash'])
    check('help', ['ls'])
    check('mounts', [])
    check('remote add', ['o', join(d, 'remote')])
    check('remote list', [])
    check('push', ['o', 'app'])
    check('pull', ['o', 'app'])
    check('clone', [join(d, 'remote'), join(d, 'clone')])
    check('fsck', [])
    check('gc', ['--dry-run'])
    check('repack', [])
    check('unlock', [])
    check('export tar', ['app', '-o', join(d, 'a.tar')])
    check('import tar', [join(d, 'a.tar'), '--ref', 'tarred'])
    check('export git', ['app', join(d, 'g.git')])
    check('import git', [join(d, 'g.git'), '--ref', 'gitted'])
    check('remote remove', ['o'])
    check('run', ['--in', t, '--materialize', '--ref', 'runs/t', '--', 'sh', '-c', 'echo hi > out.txt'])
    check('replay', ['runs/t', '--materialize'])
    check('verify', [])
    check('key generate', [])
    check('deps', ['--key-file', 't/a', '--dir', 'deps-out', '--', 'sh', '-c', 'mkdir -p deps-out && echo x > deps-out/f'])
    // checkout, unmount: FUSE mounts, covered by the mount tests; cat has no --json.
    const untested = [...shapes.keys()].filter((id) => !seen.has(id) && !['checkout', 'unmount'].includes(id))
    expect(untested, 'documented commands this test does not run').toEqual([])
  })
})
