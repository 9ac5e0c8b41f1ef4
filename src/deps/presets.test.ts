import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {planDeps} from './planDeps.js'
import {PRESET_NAMES, resolveDepsSpec, runtimeOf} from './presets.js'

const FIXTURES = join(import.meta.dirname, '../../test/fixtures/deps')
const ctx = {env: {}, home: '/home/me'}
const versions = {node: 'v20.20.2', python3: 'Python 3.11.2', rustc: 'rustc 1.83.0 (90b35a623 2024-11-26)'}
const plan = (preset: string, more: Parameters<typeof resolveDepsSpec>[0] = {}, c = ctx) =>
  planDeps(resolveDepsSpec({preset, ...more}, c), {cwd: join(FIXTURES, preset), runtimeVersion: (r) => versions[r]})

describe('presets', () => {
  it('resolve key files, command, DIR and runtime', () => {
    expect(PRESET_NAMES).toEqual(['npm', 'pnpm', 'yarn', 'pip', 'uv', 'cargo'])
    expect(resolveDepsSpec({preset: 'npm'}, ctx)).toEqual({manager: 'npm', keyFiles: ['package-lock.json'], dir: 'node_modules', absoluteDir: false, argv: ['npm', 'ci'], runtime: 'node', env: {}})
    expect(resolveDepsSpec({preset: 'pnpm'}, ctx)).toMatchObject({keyFiles: ['pnpm-lock.yaml'], dir: 'node_modules', argv: ['pnpm', 'install', '--frozen-lockfile'], runtime: 'node'})
    expect(resolveDepsSpec({preset: 'yarn'}, ctx)).toMatchObject({keyFiles: ['yarn.lock'], dir: 'node_modules', argv: ['yarn', 'install', '--frozen-lockfile'], runtime: 'node'})
    expect(resolveDepsSpec({preset: 'pip'}, ctx)).toMatchObject({
      keyFiles: ['requirements.txt'], dir: '.venv', absoluteDir: true, runtime: 'python3',
      argv: ['sh', '-c', 'python3 -m venv .venv && .venv/bin/pip install -r requirements.txt'],
    })
    expect(resolveDepsSpec({preset: 'uv'}, ctx)).toMatchObject({keyFiles: ['uv.lock'], dir: '.venv', absoluteDir: true, argv: ['uv', 'sync', '--frozen'], runtime: 'python3', env: {}})
    expect(resolveDepsSpec({preset: 'cargo'}, ctx)).toMatchObject({keyFiles: ['Cargo.lock'], dir: '/home/me/.cargo/registry', absoluteDir: true, argv: ['cargo', 'fetch', '--locked'], runtime: 'rustc'})
    expect(resolveDepsSpec({preset: 'cargo'}, {env: {CARGO_HOME: '/opt/cargo'}, home: '/home/me'}).dir).toBe('/opt/cargo/registry')
  })

  it('take --dir, --key-file and a command instead of their defaults', () => {
    expect(resolveDepsSpec({preset: 'pip', dir: 'env dir'}, ctx).argv).toEqual(['sh', '-c', "python3 -m venv 'env dir' && 'env dir'/bin/pip install -r requirements.txt"])
    expect(resolveDepsSpec({preset: 'uv', dir: 'venv2'}, ctx).env).toEqual({UV_PROJECT_ENVIRONMENT: 'venv2'})
    expect(resolveDepsSpec({preset: 'npm', keyFiles: ['a.lock', 'b.lock']}, ctx).keyFiles).toEqual(['a.lock', 'b.lock'])
    expect(resolveDepsSpec({preset: 'npm', argv: ['npm', 'ci', '--omit=dev']}, ctx)).toMatchObject({manager: 'npm', argv: ['npm', 'ci', '--omit=dev'], runtime: 'node'})
    expect(resolveDepsSpec({preset: 'npm', argv: ['./install.sh']}, ctx).runtime).toBeNull()
  })

  it('need --key-file, --dir and a command without a preset; reject unknown presets', () => {
    expect(resolveDepsSpec({keyFiles: ['Gemfile.lock'], dir: 'vendor/bundle', argv: ['bundle', 'install']}, ctx)).toEqual({
      manager: 'custom', keyFiles: ['Gemfile.lock'], dir: 'vendor/bundle', absoluteDir: false, argv: ['bundle', 'install'], runtime: null, env: {},
    })
    expect(() => resolveDepsSpec({keyFiles: ['x']}, ctx)).toThrow(/needs the install command \(after --\), --dir/)
    expect(() => resolveDepsSpec({preset: 'bundler'}, ctx)).toThrow(/unknown preset "bundler"/)
  })

  it('infer a custom command runtime from its program', () => {
    expect(runtimeOf(['npm', 'ci'])).toBe('node')
    expect(runtimeOf(['/usr/local/bin/yarn'])).toBe('node')
    expect(runtimeOf(['python3.12', '-m', 'pip'])).toBe('python3')
    expect(runtimeOf(['uv', 'sync'])).toBe('python3')
    expect(runtimeOf(['cargo', 'fetch'])).toBe('rustc')
    expect(runtimeOf(['sh', '-c', 'npm ci'])).toBeNull()
  })
})

describe('planDeps on fixtures', () => {
  it('keys each preset on its lockfile, command, runtime, platform and DIR', () => {
    const keys = new Set<string>()
    for (const p of PRESET_NAMES) {
      const d = plan(p, {}, {env: {CARGO_HOME: '/opt/cargo'}, home: '/home/me'})
      expect(d.ref).toBe(`deps/${d.key}`)
      expect(d.inputs.files.map((f) => f.path)).toEqual(resolveDepsSpec({preset: p}, ctx).keyFiles)
      expect(d.inputs.files[0].blake3).toMatch(/^[0-9a-f]{64}$/)
      expect(d.inputs.platform).toBe(process.platform)
      expect(d.inputs.arch).toBe(process.arch)
      keys.add(d.key)
    }
    expect(keys.size).toBe(PRESET_NAMES.length)
    expect(plan('npm').inputs).toMatchObject({manager: 'npm', runtime: 'v20.20.2', dir: 'node_modules', argv: ['npm', 'ci']})
    expect(plan('pip').inputs).toMatchObject({runtime: 'Python 3.11.2', dir: join(FIXTURES, 'pip', '.venv')})
    expect(plan('uv').inputs.dir).toBe(join(FIXTURES, 'uv', '.venv'))
    expect(plan('cargo', {}, {env: {CARGO_HOME: '/opt/cargo'}, home: '/x'}).inputs).toMatchObject({runtime: versions.rustc, dir: '/opt/cargo/registry'})
  })

  it('gives another key for another runtime version or lockfile', () => {
    const spec = resolveDepsSpec({preset: 'npm'}, ctx)
    const cwd = join(FIXTURES, 'npm')
    const a = planDeps(spec, {cwd, runtimeVersion: () => 'v20.20.2'})
    expect(planDeps(spec, {cwd, runtimeVersion: () => 'v20.20.2'}).key).toBe(a.key)
    expect(planDeps(spec, {cwd, runtimeVersion: () => 'v22.12.0'}).key).not.toBe(a.key)
    expect(planDeps({...spec, keyFiles: ['package.json']}, {cwd, runtimeVersion: () => 'v20.20.2'}).key).not.toBe(a.key)
  })

  it('says which key file is missing', () => {
    expect(() => plan('npm', {keyFiles: ['nope.lock']})).toThrow(/key file nope.lock does not exist/)
    try {
      planDeps(resolveDepsSpec({preset: 'yarn'}, ctx), {cwd: join(FIXTURES, 'npm'), runtimeVersion: () => 'v'})
      expect.unreachable()
    } catch (err) {
      expect((err as {code: string; hint: string}).code).toBe('ERR_VELO_NOT_FOUND')
      expect((err as {hint: string}).hint).toMatch(/the yarn preset keys on yarn.lock/)
    }
  })
})
