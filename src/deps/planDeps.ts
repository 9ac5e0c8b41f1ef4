/** Reads the key files and the runtime's version, and computes the key of a dependency tree. */
import {readFileSync} from 'node:fs'
import {relative, resolve} from 'node:path'
import {hash} from '../objects/hash.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {depsKey, depsRef, type DepsKeyInputs} from './depsKey.js'
import type {DepsSpec, Runtime} from './presets.js'
import {runtimeVersion} from './runtimeVersion.js'

/** The key's inputs as reported (--status, --json): file contents by size and BLAKE3. */
export interface DepsInputs {
  manager: string
  files: {path: string; bytes: number; blake3: string}[]
  argv: string[]
  runtime: string
  platform: string
  arch: string
  dir: string
}

export interface DepsPlan {
  key: string
  ref: string
  spec: DepsSpec
  /** The project directory (absolute): key files, DIR and the install command are relative to it. */
  cwd: string
  /** DIR, absolute. */
  dir: string
  inputs: DepsInputs
}

export interface PlanOptions {
  cwd: string
  /** Defaults to running the runtime's version command. */
  runtimeVersion?: (r: Runtime) => string
}

export function planDeps(spec: DepsSpec, o: PlanOptions): DepsPlan {
  const cwd = resolve(o.cwd)
  const dir = resolve(cwd, spec.dir)
  const files = spec.keyFiles.map((f) => {
    const abs = resolve(cwd, f)
    let bytes: Buffer
    try {
      bytes = readFileSync(abs)
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) {
        throw new VeloError('ERR_VELO_NOT_FOUND', `key file ${f} does not exist in ${cwd}`, {
          hint: spec.manager === 'custom'
            ? 'check --key-file (paths are relative to the current directory)'
            : `the ${spec.manager} preset keys on ${spec.keyFiles.join(', ')}: run velo deps in the project's directory, create the lockfile first, or name another with --key-file`,
          data: {path: abs},
        })
      }
      if (isErrno(err, 'EISDIR')) throw new VeloError('ERR_VELO_USAGE', `key file ${f} is a directory`, {hint: 'key files are files, e.g. --key-file package-lock.json'})
      throw fsError(err, abs, 'reading')
    }
    return {path: relative(cwd, abs), bytes}
  })
  const inputs: DepsKeyInputs = {
    manager: spec.manager,
    files,
    argv: spec.argv,
    runtime: spec.runtime ? (o.runtimeVersion ?? runtimeVersion)(spec.runtime) : '',
    platform: process.platform,
    arch: process.arch,
    dir: spec.absoluteDir ? dir : relative(cwd, dir) || '.',
  }
  const key = depsKey(inputs)
  return {
    key,
    ref: depsRef(key),
    spec,
    cwd,
    dir,
    inputs: {
      ...inputs,
      files: files.map((f) => ({path: f.path, bytes: f.bytes.length, blake3: hash(f.bytes).toString('hex')})),
    },
  }
}
