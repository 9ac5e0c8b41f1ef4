/**
 * What `velo deps PRESET` means: key files, install command, the directory it fills and the runtime
 * whose version is part of the key (docs/deps.md). Pure: the environment and home come as options.
 */
import {basename, isAbsolute, join} from 'node:path'
import {VeloError} from '../util/errors.js'

export type Runtime = 'node' | 'python3' | 'rustc'

/** The command printing each runtime's version (its output, trimmed, goes into the key). */
export const RUNTIME_VERSION_COMMAND: Record<Runtime, string[]> = {
  node: ['node', '--version'],
  python3: ['python3', '--version'],
  rustc: ['rustc', '--version'],
}

export interface DepsSpec {
  /** Preset name, or "custom". */
  manager: string
  keyFiles: string[]
  /** DIR as given or preset (relative to the project directory, or absolute). */
  dir: string
  /** Whether the key holds DIR's absolute path (trees that record where they are: venvs, cargo's registry). */
  absoluteDir: boolean
  argv: string[]
  runtime: Runtime | null
  /** Extra environment for the install command. */
  env: Record<string, string>
}

export interface PresetContext {
  env: NodeJS.ProcessEnv
  home: string
}

interface Preset {
  keyFiles: string[]
  dir: (c: PresetContext) => string
  absoluteDir: boolean
  /** The install command for DIR (the preset's DIR unless --dir). */
  argv: (dir: string) => string[]
  runtime: Runtime
  env?: (dir: string) => Record<string, string>
}

const shq = (s: string): string => (/^[A-Za-z0-9_./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

export const PRESETS: Record<string, Preset> = {
  npm: {keyFiles: ['package-lock.json'], dir: () => 'node_modules', absoluteDir: false, argv: () => ['npm', 'ci'], runtime: 'node'},
  pnpm: {keyFiles: ['pnpm-lock.yaml'], dir: () => 'node_modules', absoluteDir: false, argv: () => ['pnpm', 'install', '--frozen-lockfile'], runtime: 'node'},
  yarn: {keyFiles: ['yarn.lock'], dir: () => 'node_modules', absoluteDir: false, argv: () => ['yarn', 'install', '--frozen-lockfile'], runtime: 'node'},
  pip: {
    keyFiles: ['requirements.txt'],
    dir: () => '.venv',
    absoluteDir: true,
    argv: (dir) => ['sh', '-c', `python3 -m venv ${shq(dir)} && ${shq(dir)}/bin/pip install -r requirements.txt`],
    runtime: 'python3',
  },
  uv: {
    keyFiles: ['uv.lock'],
    dir: () => '.venv',
    absoluteDir: true,
    argv: () => ['uv', 'sync', '--frozen'],
    runtime: 'python3',
    env: (dir): Record<string, string> => (dir === '.venv' ? {} : {UV_PROJECT_ENVIRONMENT: dir}),
  },
  cargo: {
    keyFiles: ['Cargo.lock'],
    // Where `cargo fetch` puts the crates: $CARGO_HOME/registry (default ~/.cargo/registry).
    dir: (c) => join(c.env.CARGO_HOME || join(c.home, '.cargo'), 'registry'),
    absoluteDir: true,
    argv: () => ['cargo', 'fetch', '--locked'],
    runtime: 'rustc',
  },
}

export const PRESET_NAMES = Object.keys(PRESETS)

/** The runtime of a custom command, from its program's name (npm ... → node), or null. */
export function runtimeOf(argv: string[]): Runtime | null {
  const prog = basename(argv[0] ?? '')
  if (/^(node|npm|npx|pnpm|pnpx|yarn|corepack)$/.test(prog)) return 'node'
  if (/^(python3?(\.\d+)?|pip3?|uv|poetry|pipenv)$/.test(prog)) return 'python3'
  if (/^(cargo|rustc)$/.test(prog)) return 'rustc'
  return null
}

export interface DepsRequest {
  preset?: string
  keyFiles?: string[]
  dir?: string
  /** The install command after --; overrides the preset's. */
  argv?: string[]
}

/** Resolves a preset and the flags into one spec; a custom command needs --key-file, --dir and a command. */
export function resolveDepsSpec(r: DepsRequest, c: PresetContext): DepsSpec {
  const argv = r.argv && r.argv.length > 0 ? r.argv : undefined
  if (r.preset !== undefined) {
    const p = PRESETS[r.preset]
    if (!p) {
      throw new VeloError('ERR_VELO_USAGE', `unknown preset ${JSON.stringify(r.preset)}`, {
        hint: `presets: ${PRESET_NAMES.join(', ')}; or give --key-file, --dir and the install command after --`,
      })
    }
    const dir = r.dir ?? p.dir(c)
    return {
      manager: r.preset,
      keyFiles: r.keyFiles && r.keyFiles.length > 0 ? r.keyFiles : p.keyFiles,
      dir,
      absoluteDir: p.absoluteDir || isAbsolute(dir),
      argv: argv ?? p.argv(dir),
      runtime: argv ? runtimeOf(argv) : p.runtime,
      env: p.env?.(dir) ?? {},
    }
  }
  const missing = [!argv && 'the install command (after --)', !r.keyFiles?.length && '--key-file', !r.dir && '--dir'].filter(Boolean)
  if (missing.length > 0) {
    throw new VeloError('ERR_VELO_USAGE', `without a preset, velo deps needs ${missing.join(', ')}`, {
      hint: `use a preset (${PRESET_NAMES.join(', ')}), e.g. velo deps npm, or: velo deps --key-file package-lock.json --dir node_modules -- npm ci`,
    })
  }
  return {manager: 'custom', keyFiles: r.keyFiles!, dir: r.dir!, absoluteDir: isAbsolute(r.dir!), argv: argv!, runtime: runtimeOf(argv!), env: {}}
}
