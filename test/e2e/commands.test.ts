/**
 * Every command (those of the build, so commands added later are covered too): help shows its
 * examples, a bad flag gives the one mapped error (one line, a hint, exit 2; JSON with --json),
 * and neither its help nor loading it pulls in ink, fuse-native, isomorphic-git, the S3 client or
 * tar-stream unless the command uses them.
 */
import {spawnSync} from 'node:child_process'
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {USES, heavyIn, lastJson, manifestCommands, words} from '../helpers/cli.js'
import {BIN, ROOT, tmpDir, velo} from '../helpers/velo.js'

function heavyLoaded(args: string[], dir: string): {loaded: string[]; code: number; stdout: string; stderr: string} {
  const log = join(dir, 'modules.log')
  rmSync(log, {force: true})
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'test/helpers/recordModules.mjs'), BIN, ...args], {
    env: {...process.env, VELO_TEST_MODULE_LOG: log, VELO_REPO: join(dir, 'repo'), NO_COLOR: '1'},
    encoding: 'utf8',
    timeout: 60_000,
  })
  const loaded = heavyIn(log)
  return {loaded, code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

// Spawning is slow on a loaded machine: one process per command where every command must be
// checked (loading its module), samples elsewhere (the code path is shared).
const SLOW = 900_000

describe('every command', () => {
  const cmds = manifestCommands()

  it('has examples', () => {
    expect(cmds.length).toBeGreaterThan(10)
    const without = cmds.filter((c) => !c.examples || c.examples.length === 0).map((c) => c.id.replace(/:/g, ' '))
    expect(without, 'commands without static examples').toEqual([])
  })

  it('shows a summary and an example of each command in `velo` without arguments', () => {
    const r = velo([])
    expect(r.code).toBe(0)
    const help = JSON.parse(velo(['help', '--json']).stdout) as {id: string; examples: {command: string}[]}[]
    for (const c of help) {
      expect(r.stdout, c.id).toMatch(new RegExp(`^  ${c.id} `, 'm'))
      expect(r.stdout, c.id).toContain(`$ ${c.examples[0].command}`)
    }
    expect(help.map((c) => c.id).sort()).toEqual(cmds.map((c) => c.id.replace(/:/g, ' ')).sort())
  })

  it('shows examples in velo help CMD and CMD --help, loading nothing heavy for help', () => {
    const d = tmpDir()
    for (const id of ['snapshot', 'ref set', 'export tar', 'checkout', 'push', 'completion']) {
      if (!cmds.some((c) => c.id === id.replace(/ /g, ':'))) continue
      const h = heavyLoaded([...words(id), '--help'], d)
      expect(h.code, `velo ${id} --help: ${h.stderr}`).toBe(0)
      expect(h.stdout, id).toMatch(/^EXAMPLES\n {2}\$ velo /m)
      expect(h.loaded, `velo ${id} --help loaded`).toEqual([])
    }
    expect(velo(['help', 'ref', 'set']).stdout).toContain('EXAMPLES\n  $ velo ref set app/stable app/deps~2')
    expect(velo(['help', 'help']).stdout).toContain('$ velo help ref set')
  }, SLOW)

  it('reports a bad flag as one line and a hint (exit 2), loading only the heavy modules it uses', () => {
    const d = tmpDir()
    for (const c of cmds) {
      const id = c.id.replace(/:/g, ' ')
      const r = heavyLoaded([...words(c.id), '--no-such-flag'], d)
      expect(r.code, `velo ${id} --no-such-flag: ${r.stderr}`).toBe(2)
      expect(r.stderr.trimEnd().split('\n'), id).toEqual(['velo: error: nonexistent flag: --no-such-flag', `hint: see velo help ${id}`])
      expect(r.stdout, id).toBe('')
      const allowed = USES[id] ?? []
      expect(r.loaded.filter((m) => !allowed.includes(m)), `velo ${id} loaded`).toEqual([])
    }
  }, SLOW)

  it('reports errors as the last JSON line with --json', () => {
    const d = tmpDir()
    for (const args of [['log', '--no-such-flag'], ['ref', 'set', '--no-such-flag'], ['push', '--no-such-flag'], ['checkout', '--no-such-flag'], ['gc', '--no-such-flag'], ['show', 'nosuchref']]) {
      const j = velo([...args, '--json'], {env: {VELO_REPO: join(d, 'repo')}})
      expect(j.code, args.join(' ')).toBeGreaterThan(1)
      expect(lastJson(j.stdout), args.join(' ')).toMatchObject({type: 'error', exitCode: j.code, error: {code: expect.stringMatching(/^ERR_VELO_/)}})
    }
  }, SLOW)
})

describe('errors outside a command', () => {
  it('velo nosuch: one line, a hint, exit 2; JSON with --json', () => {
    const r = velo(['nosuch'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('velo: error: unknown command "nosuch"\nhint: velo help lists every command\n')
    const j = velo(['nosuch', '--json'])
    expect(j.code).toBe(2)
    expect(j.stdout.trim().split('\n')).toHaveLength(1)
    expect(JSON.parse(j.stdout)).toEqual({type: 'error', exitCode: 2, error: {code: 'ERR_VELO_USAGE', message: 'unknown command "nosuch"', hint: 'velo help lists every command'}})
  })

  it('suggests the closest command, also for help', () => {
    expect(velo(['snapshto']).stderr).toContain('hint: did you mean velo snapshot?')
    const r = velo(['help', 'restor'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('velo: error: unknown command "restor"\nhint: did you mean velo restore?')
  })

  it('names a missing argument', () => {
    const r = velo(['restore', 'x'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('velo: error: missing required argument DIR\nhint: see velo help restore\n')
  })

  it('velo --version loads nothing heavy and skips oclif', () => {
    const d = tmpDir()
    const r = heavyLoaded(['--version'], d)
    expect(r.stdout).toMatch(/^velo\/\d+\.\d+\.\d+ /)
    const mods = readFileSync(join(d, 'modules.log'), 'utf8')
    expect(mods).not.toMatch(/@oclif/)
    expect(r.loaded).toEqual([])
  })
})
