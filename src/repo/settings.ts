/**
 * Repository settings (`velo config`): kept in the repository's velo.json, each overridable by an
 * environment variable. The table below is the whole list; docs/commands.md and `velo config list`
 * show it. In velo.json a key `a.b` is stored nested: {"a": {"b": value}}.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {formatDuration, parseDuration} from '../maintenance/parseDuration.js'
import {acquireLock} from '../refs/lockFile.js'
import type {RefNaming} from '../snapshot/refNameFor.js'
import {VeloError} from '../util/errors.js'
import {atomicWrite, mkdirp} from '../util/fsx.js'

export type SettingValue = string | number

export interface SettingDef {
  key: string
  env: string
  description: string
  default: SettingValue
  /** Accepted values, when they are a fixed list. */
  values?: string[]
  /** Checks and normalises a value given as text (from the command line, the environment or velo.json). */
  parse(text: string): SettingValue
}

function oneOf(key: string, values: string[]): (text: string) => string {
  return (text) => {
    if (!values.includes(text)) {
      throw new VeloError('ERR_VELO_USAGE', `${key} must be one of ${values.join(', ')}, not ${JSON.stringify(text)}`, {hint: `e.g. velo config set ${key} ${values[0]}`})
    }
    return text
  }
}

export const SETTINGS: SettingDef[] = [
  {
    key: 'compression',
    env: 'VELO_COMPRESSION',
    description: 'zstd level of new data packs: 1 (fastest) to 19 (smallest); 3 is a good balance',
    default: 3,
    parse(text) {
      if (!/^-?\d+$/.test(text.trim()) || Number(text) < -7 || Number(text) > 22) {
        throw new VeloError('ERR_VELO_USAGE', `compression must be a zstd level from -7 to 22, not ${JSON.stringify(text)}`, {hint: 'e.g. velo config set compression 3'})
      }
      return Number(text)
    },
  },
  {
    key: 'ref.naming',
    env: 'VELO_REF_NAMING',
    description: 'the ref of `velo snapshot DIR` without --ref: name-hash (node_modules-3f2a9c1d), name (node_modules) or path (home/me/app/node_modules)',
    default: 'name-hash',
    values: ['name-hash', 'name', 'path'],
    parse: oneOf('ref.naming', ['name-hash', 'name', 'path']),
  },
  {
    key: 'gc.grace',
    env: 'VELO_GC_GRACE',
    description: 'gc keeps unreachable objects younger than this (e.g. 14d, 2w, 12h; now, never)',
    default: '14d',
    parse(text) {
      return formatDuration(parseDuration(text, 'gc.grace'))
    },
  },
  {
    key: 'remote.credentials',
    env: 'VELO_REMOTE_CREDENTIALS',
    description: 'where S3 remotes get credentials: auto ($AWS_* variables, then the AWS profile files), env (variables only) or profile (the AWS profile files only)',
    default: 'auto',
    values: ['auto', 'env', 'profile'],
    parse: oneOf('remote.credentials', ['auto', 'env', 'profile']),
  },
  {
    key: 'remote.profile',
    env: 'VELO_REMOTE_PROFILE',
    description: 'the AWS profile S3 remotes use (default: $AWS_PROFILE, else "default")',
    default: '',
    parse(text) {
      if (!/^[A-Za-z0-9._@+-]*$/.test(text)) throw new VeloError('ERR_VELO_USAGE', `bad profile name ${JSON.stringify(text)}`, {hint: 'a name from ~/.aws/config'})
      return text
    },
  },
  {
    key: 'remote.timeout',
    env: 'VELO_REMOTE_TIMEOUT',
    description: 'how long a lazy mount waits for a remote to deliver missing file content (retries included) before the read fails with EIO (e.g. 30s, 2m)',
    default: '30s',
    parse(text) {
      const ms = parseDuration(text, 'remote.timeout')
      if (ms <= 0 || ms === Infinity) throw new VeloError('ERR_VELO_USAGE', `remote.timeout must be a positive duration, not ${JSON.stringify(text)}`, {hint: 'e.g. velo config set remote.timeout 30s'})
      return formatDuration(ms)
    },
  },
]

export function settingDef(key: string): SettingDef {
  const d = SETTINGS.find((s) => s.key === key)
  if (!d) {
    throw new VeloError('ERR_VELO_USAGE', `unknown setting ${JSON.stringify(key)}`, {hint: `the settings are: ${SETTINGS.map((s) => s.key).join(', ')}`})
  }
  return d
}

export interface Setting {
  key: string
  value: SettingValue
  /** Where the value comes from: the environment variable, the repository's velo.json, or the default. */
  source: 'env' | 'repo' | 'default'
  env: string
  default: SettingValue
  description: string
}

type Json = Record<string, unknown>

function getPath(o: Json, key: string): unknown {
  let cur: unknown = o
  for (const part of key.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined
    cur = (cur as Json)[part]
  }
  return cur
}

function setPath(o: Json, key: string, value: unknown): void {
  const parts = key.split('.')
  let cur = o
  for (const part of parts.slice(0, -1)) {
    if (typeof cur[part] !== 'object' || cur[part] === null) cur[part] = {}
    cur = cur[part] as Json
  }
  if (value === undefined) delete cur[parts[parts.length - 1]]
  else cur[parts[parts.length - 1]] = value
  // drop objects left empty by an unset
  if (value === undefined && parts.length > 1 && Object.keys(cur).length === 0) setPath(o, parts.slice(0, -1).join('.'), undefined)
}

/**
 * The effective value of a setting: the environment variable, else velo.json (`config`, the
 * repository's parsed velo.json; undefined when there is no repository), else the default.
 */
export function readSetting(config: Json | undefined, key: string, env: NodeJS.ProcessEnv = process.env): Setting {
  const d = settingDef(key)
  const base = {key, env: d.env, default: d.default, description: d.description}
  const fromEnv = env[d.env]
  if (fromEnv !== undefined && fromEnv !== '') {
    try {
      return {...base, value: d.parse(fromEnv), source: 'env'}
    } catch (err) {
      throw new VeloError('ERR_VELO_USAGE', `$${d.env}: ${(err as Error).message}`, {hint: `fix or unset ${d.env}`})
    }
  }
  const stored = config ? getPath(config, key) : undefined
  if (stored !== undefined && stored !== null) {
    try {
      return {...base, value: d.parse(String(stored)), source: 'repo'}
    } catch (err) {
      throw new VeloError('ERR_VELO_USAGE', `velo.json: ${(err as Error).message}`, {hint: `velo config set ${key} VALUE, or velo config unset ${key}`})
    }
  }
  return {...base, value: d.default, source: 'default'}
}

export function listSettings(config: Json | undefined, env: NodeJS.ProcessEnv = process.env): Setting[] {
  return SETTINGS.map((d) => readSetting(config, d.key, env))
}

/** Writes (or with `text` undefined removes) a setting in `<repoRoot>/velo.json`, under a lock. */
export function writeSetting(repoRoot: string, key: string, text: string | undefined): {key: string; value: SettingValue | null; previous: SettingValue | null} {
  const d = settingDef(key)
  const value = text === undefined ? undefined : d.parse(text)
  const path = join(repoRoot, 'velo.json')
  mkdirp(join(repoRoot, 'locks'))
  const lock = acquireLock(join(repoRoot, 'locks', 'velo.json.lock'), {command: 'config set', what: 'repository configuration: lock'})
  try {
    const config = JSON.parse(readFileSync(path, 'utf8')) as Json
    const prev = getPath(config, key)
    setPath(config, key, value)
    atomicWrite(path, JSON.stringify(config, null, 2) + '\n')
    return {key, value: value ?? null, previous: prev === undefined ? null : (prev as SettingValue)}
  } finally {
    lock.release()
  }
}

/** gc's grace period in ms (the `gc.grace` setting). */
export function gcGraceMs(config: Json | undefined, env: NodeJS.ProcessEnv = process.env): number {
  return parseDuration(String(readSetting(config, 'gc.grace', env).value))
}

export function refNaming(config: Json | undefined, env: NodeJS.ProcessEnv = process.env): RefNaming {
  return readSetting(config, 'ref.naming', env).value as RefNaming
}

/** How long a lazy mount waits for missing content (ms): the `remote.timeout` setting. */
export function remoteTimeoutMs(config: Json | undefined, env: NodeJS.ProcessEnv = process.env): number {
  return parseDuration(String(readSetting(config, 'remote.timeout', env).value))
}
