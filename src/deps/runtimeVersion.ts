/** The version line of a runtime (`node --version`...), as it goes into a dependency key. */
import {spawnSync} from 'node:child_process'
import {realpathSync, statSync} from 'node:fs'
import {delimiter, join} from 'node:path'
import {VeloError} from '../util/errors.js'
import {RUNTIME_VERSION_COMMAND, type Runtime} from './presets.js'

/** The first executable file named `prog` on PATH. */
function which(prog: string, path: string): string | undefined {
  for (const d of path.split(delimiter)) {
    if (!d) continue
    const p = join(d, prog)
    try {
      if (statSync(p).isFile()) return p
    } catch {
      // not there
    }
  }
  return undefined
}

/**
 * Runs the runtime's version command. For node, when the `node` on PATH is this very binary, its
 * version is known without starting it (what `node --version` prints: process.version).
 */
export function runtimeVersion(runtime: Runtime, env: NodeJS.ProcessEnv = process.env): string {
  const [prog, ...args] = RUNTIME_VERSION_COMMAND[runtime]
  if (runtime === 'node') {
    const found = which('node', env.PATH ?? '')
    try {
      if (found && realpathSync(found) === realpathSync(process.execPath)) return process.version
    } catch {
      // fall through to running it
    }
  }
  const r = spawnSync(prog, args, {encoding: 'utf8', env, timeout: 60_000})
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new VeloError('ERR_VELO_COMMAND_NOT_FOUND', `${prog} is not installed (its version is part of the dependency key)`, {
      hint: `install ${prog}, or check PATH`,
    })
  }
  if (r.status !== 0) {
    throw new VeloError('ERR_VELO_COMMAND_NOT_FOUND', `${[prog, ...args].join(' ')} failed (exit ${r.status ?? r.signal}): ${(r.stderr || '').trim().split('\n')[0]}`, {
      hint: `check that ${prog} works`,
    })
  }
  // python3 < 3.4 printed its version on stderr.
  return `${r.stdout}${r.stdout.trim() ? '' : r.stderr}`.trim()
}
