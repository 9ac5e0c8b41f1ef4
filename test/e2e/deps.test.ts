/**
 * `velo deps` with real npm and pnpm (the npm registry is reachable; the npm cache makes repeats
 * quick) on the tests' own small lockfiles (test/fixtures/deps), real FUSE mounts served by the
 * background process the CLI starts, and a directory remote.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {appendFileSync, cpSync, mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {fuseTestsEnabled, mountScratch, mountsUnder} from '../helpers/mounts.js'
import {ROOT, lastLine, velo, veloOk} from '../helpers/velo.js'

const FIXTURES = join(ROOT, 'test/fixtures/deps')

interface DepsJson {
  key: string
  ref: string
  hit: boolean
  source: string
  remote: string | null
  provided: string
  dir: string
  snapshot: string
  pushed: boolean | null
  mount: {mountpoint: string} | null
  install: {argv: string[]} | null
}

function project(root: string, name: string, fixture: string): string {
  const p = join(root, name)
  mkdirSync(p, {recursive: true})
  cpSync(join(FIXTURES, fixture), p, {recursive: true})
  return p
}

function deps(cwd: string, repo: string, args: string[], code = 0): DepsJson {
  const r = veloOk(['deps', ...args, '--json'], {cwd, env: {VELO_REPO: repo}, timeout: 120_000}, code)
  return JSON.parse(lastLine(r.stdout)) as DepsJson
}

/** diff -r of two trees (symlinks followed, as diff does); throws with the differences. */
function sameTree(a: string, b: string): void {
  const r = spawnSync('diff', ['-r', a, b], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`diff -r ${a} ${b}:\n${r.stdout}${r.stderr}`)
}

function node(cwd: string, code: string): string {
  return execFileSync(process.execPath, ['-e', code], {cwd, encoding: 'utf8'}).trim()
}

describe.skipIf(!fuseTestsEnabled())('velo deps', () => {
  it('npm: a miss installs, records and pushes; hits mount or restore the same bytes; a changed lockfile misses', {timeout: 240_000}, () => {
    const root = mountScratch('velo-deps-')
    const repo = join(root, 'repo')
    const app = project(root, 'app', 'npm')
    veloOk(['remote', 'add', 'origin', join(root, 'remote')], {env: {VELO_REPO: repo}})

    expect(deps(app, repo, ['npm', '--status'])).toMatchObject({hit: false, source: null, local: null, provided: false})
    const miss = deps(app, repo, ['npm', '--remote', 'origin'])
    expect(miss).toMatchObject({hit: false, source: 'installed', provided: 'installed', pushed: true, dir: join(app, 'node_modules')})
    expect(miss.ref).toBe(`deps/${miss.key}`)
    expect(miss.install?.argv).toEqual(['npm', 'ci'])
    const installed = join(root, 'installed')
    cpSync(join(app, 'node_modules'), installed, {recursive: true, verbatimSymlinks: true})

    // The installed tree is the snapshot's: a hit right away changes nothing.
    expect(deps(app, repo, ['npm'])).toMatchObject({hit: true, source: 'local', provided: 'already', snapshot: miss.snapshot})
    expect(deps(app, repo, ['npm', '--status'])).toMatchObject({hit: true, source: 'local', local: miss.snapshot, provided: true})

    // Mounted (copy-on-write): the same bytes, and programs run from it.
    execFileSync('rm', ['-rf', join(app, 'node_modules')])
    const hit = deps(app, repo, ['npm'])
    expect(hit).toMatchObject({hit: true, source: 'local', provided: 'mounted', snapshot: miss.snapshot, key: miss.key})
    expect(hit.mount?.mountpoint).toBe(join(app, 'node_modules'))
    expect(mountsUnder(app).map((m) => m.fstype)).toEqual(['fuse.velo'])
    sameTree(installed, join(app, 'node_modules'))
    expect(node(app, "console.log(require('semver').valid('1.2.3'), require('is-number')(5))")).toBe('1.2.3 true')
    expect(execFileSync('npx', ['--no-install', 'semver', '2.0.0'], {cwd: app, encoding: 'utf8'}).trim()).toBe('2.0.0')
    expect(deps(app, repo, ['npm'])).toMatchObject({provided: 'already'})

    // Restored (--materialize) over the deps mount: real files, the same bytes.
    expect(deps(app, repo, ['npm', '--materialize'])).toMatchObject({hit: true, provided: 'restored'})
    expect(mountsUnder(app)).toEqual([])
    sameTree(installed, join(app, 'node_modules'))
    expect(deps(app, repo, ['npm', '--materialize'])).toMatchObject({provided: 'already'})

    // A DIR with other contents is not replaced unless --force.
    execFileSync('rm', ['-rf', join(app, 'node_modules')])
    mkdirSync(join(app, 'node_modules'))
    writeFileSync(join(app, 'node_modules', 'stray'), 'x\n')
    const refused = velo(['deps', 'npm', '--json'], {cwd: app, env: {VELO_REPO: repo}})
    expect(refused.code).toBe(2)
    expect(JSON.parse(lastLine(refused.stdout)).error.code).toBe('ERR_VELO_TARGET_NOT_EMPTY')
    expect(deps(app, repo, ['npm', '--force'])).toMatchObject({provided: 'mounted'})
    sameTree(installed, join(app, 'node_modules'))

    // A changed lockfile is another key: a miss.
    appendFileSync(join(app, 'package-lock.json'), '\n')
    const changed = deps(app, repo, ['npm', '--status'])
    expect(changed.key).not.toBe(miss.key)
    expect(changed).toMatchObject({hit: false, local: null})

    // A fresh repository on another machine: the hit comes from the remote.
    const repo2 = join(root, 'repo2')
    const app2 = project(root, 'app2', 'npm')
    veloOk(['remote', 'add', 'origin', join(root, 'remote')], {env: {VELO_REPO: repo2}})
    expect(deps(app2, repo2, ['npm', '--remote', 'origin', '--status'])).toMatchObject({hit: true, source: 'remote', local: null, remote: {name: 'origin', snapshot: miss.snapshot}})
    expect(deps(app2, repo2, ['npm', '--remote', 'origin', '--materialize'])).toMatchObject({hit: true, source: 'remote', remote: 'origin', provided: 'restored', snapshot: miss.snapshot})
    sameTree(installed, join(app2, 'node_modules'))
    expect(node(app2, "console.log(require('semver').valid('1.2.3'))")).toBe('1.2.3')
  })

  it('pnpm: a miss installs and records; a hit mounts the same tree', {timeout: 120_000}, () => {
    const root = mountScratch('velo-deps-pnpm-')
    const repo = join(root, 'repo')
    const app = project(root, 'app', 'pnpm')
    const env = {VELO_REPO: repo, npm_config_update_notifier: 'false'}
    const run = (args: string[]): DepsJson => JSON.parse(lastLine(veloOk(['deps', ...args, '--json'], {cwd: app, env, timeout: 100_000}).stdout)) as DepsJson
    const miss = run(['pnpm'])
    expect(miss).toMatchObject({hit: false, source: 'installed'})
    expect(miss.install?.argv).toEqual(['pnpm', 'install', '--frozen-lockfile'])
    const installed = join(root, 'installed')
    cpSync(join(app, 'node_modules'), installed, {recursive: true, verbatimSymlinks: true})
    execFileSync('rm', ['-rf', join(app, 'node_modules')])
    expect(run(['pnpm'])).toMatchObject({hit: true, provided: 'mounted', snapshot: miss.snapshot})
    sameTree(installed, join(app, 'node_modules'))
    expect(readdirSync(join(app, 'node_modules')).sort()).toEqual(readdirSync(installed).sort())
    expect(node(app, "console.log(require('semver').valid('3.1.4'), require('is-number')('x'))")).toBe('3.1.4 false')
  })

  it('errors: a missing key file, a failing install command (its exit code), no command without a preset', () => {
    const root = mountScratch('velo-deps-err-')
    const repo = join(root, 'repo')
    const env = {VELO_REPO: repo}
    const err = (args: string[], code: number): {code: string; hint?: string} => {
      const dash = args.includes('--') ? args.indexOf('--') : args.length
      const r = velo(['deps', ...args.slice(0, dash), '--json', ...args.slice(dash)], {cwd: root, env})
      expect(r.code, r.stdout + r.stderr).toBe(code)
      return JSON.parse(lastLine(r.stdout)).error as {code: string; hint?: string}
    }
    expect(err(['npm'], 16)).toMatchObject({code: 'ERR_VELO_NOT_FOUND'})
    writeFileSync(join(root, 'lock'), 'v1\n')
    expect(err(['--key-file', 'lock', '--dir', 'out', '--', 'sh', '-c', 'echo failing >&2; exit 7'], 7)).toMatchObject({code: 'ERR_VELO_INSTALL_FAILED'})
    expect(err(['--key-file', 'lock', '--dir', 'out', '--', 'no-such-installer-xyz'], 127)).toMatchObject({code: 'ERR_VELO_COMMAND_NOT_FOUND'})
    expect(err(['--key-file', 'lock'], 2)).toMatchObject({code: 'ERR_VELO_USAGE'})
    expect(err(['nosuchpreset'], 2)).toMatchObject({code: 'ERR_VELO_USAGE'})
    // Nothing was recorded by the failures.
    expect(JSON.parse(lastLine(veloOk(['ref', 'list', '--json'], {env}).stdout))).toEqual([])
  })
})
