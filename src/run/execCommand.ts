/**
 * Runs a recorded command: exactly the given argv, environment and working directory, stdin from
 * /dev/null, stdout and stderr captured (and passed through live), in its own process group so
 * that an interrupt reaches it once and whatever it leaves running is ended with it.
 */
import {spawn} from 'node:child_process'
import {constants} from 'node:fs'
import {access, stat} from 'node:fs/promises'
import {isAbsolute, join, resolve} from 'node:path'
import {VeloError} from '../util/errors.js'

export interface ExecOptions {
  argv: string[]
  /** Absolute working directory. */
  cwd: string
  env: Record<string, string>
  /** Change into `cwd` after exec (see Workspace.chdirAfterExec). */
  chdirAfterExec: boolean
  onStdout(data: Buffer): void
  onStderr(data: Buffer): void
  /** Aborting sends the reason (a signal name, default SIGINT) to the command's process group. */
  signal?: AbortSignal
  /** After an abort, SIGKILL follows this much later (ms). */
  killAfterMs?: number
}

export interface ExecResult {
  exitCode: number | null
  signal: string | null
  interrupted: boolean
  start: number
  duration: number
}

async function isExecutableFile(p: string): Promise<'ok' | 'missing' | 'not-executable'> {
  try {
    const st = await stat(p)
    if (!st.isFile()) return 'missing'
  } catch {
    return 'missing'
  }
  try {
    await access(p, constants.X_OK)
    return 'ok'
  } catch {
    return 'not-executable'
  }
}

/**
 * Finds the command as exec would (PATH from the command's environment; relative entries and
 * paths with a '/' against its working directory). Asynchronous: the directory may be a mount
 * served by this process. Throws exit 127 (not found) or 126 (not executable), as shells do.
 */
export async function resolveCommand(argv0: string, cwd: string, env: Record<string, string>): Promise<string> {
  let notExec: string | undefined
  const candidates = argv0.includes('/') ? [resolve(cwd, argv0)] : (env.PATH ?? '').split(':').map((d) => join(isAbsolute(d) ? d : resolve(cwd, d || '.'), argv0))
  if (argv0 !== '') {
    for (const c of candidates) {
      const r = await isExecutableFile(c)
      if (r === 'ok') return c
      if (r === 'not-executable') notExec ??= c
    }
  }
  if (notExec) {
    throw new VeloError('ERR_VELO_COMMAND_NOT_EXECUTABLE', `${argv0}: permission denied (${notExec} is not executable)`, {
      hint: `make it executable (chmod +x) in the input, or run it through its interpreter, e.g. velo run -- sh ${argv0}`,
    })
  }
  throw new VeloError('ERR_VELO_COMMAND_NOT_FOUND', `command not found: ${argv0}`, {
    hint: argv0.includes('/') ? `there is no ${argv0} in the input at the working directory` : `it is not in the PATH the command gets (${env.PATH ?? 'unset'}); pass --env PATH=... to change it`,
  })
}

export function execCommand(o: ExecOptions): Promise<ExecResult> {
  const start = Date.now()
  const [cmd, ...args] = o.chdirAfterExec ? ['/bin/sh', '-c', 'cd -- "$1" && shift && exec "$@"', 'velo-run', o.cwd, ...o.argv] : o.argv
  const child = spawn(cmd, args, {
    cwd: o.chdirAfterExec ? '/' : o.cwd,
    env: o.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    argv0: o.chdirAfterExec ? undefined : o.argv[0],
  })
  let interrupted = false
  let killTimer: NodeJS.Timeout | undefined
  const signalGroup = (sig: NodeJS.Signals): void => {
    try {
      if (child.pid) process.kill(-child.pid, sig)
    } catch {
      /* gone */
    }
  }
  const onAbort = (): void => {
    interrupted = true
    const reason = o.signal?.reason
    signalGroup(typeof reason === 'string' && reason.startsWith('SIG') ? (reason as NodeJS.Signals) : 'SIGINT')
    killTimer = setTimeout(() => signalGroup('SIGKILL'), o.killAfterMs ?? 10_000)
    killTimer.unref()
  }
  if (o.signal?.aborted) onAbort()
  else o.signal?.addEventListener('abort', onAbort, {once: true})
  child.stdout.on('data', (d: Buffer) => o.onStdout(d))
  child.stderr.on('data', (d: Buffer) => o.onStderr(d))
  // The run ends when the command exits: what it left running in its group would write into a
  // checkout that is about to be recorded and removed.
  child.on('exit', () => signalGroup('SIGKILL'))
  return new Promise((resolveResult, reject) => {
    child.on('error', (err) => {
      o.signal?.removeEventListener('abort', onAbort)
      reject(err)
    })
    child.on('close', (code, signal) => {
      o.signal?.removeEventListener('abort', onAbort)
      if (killTimer) clearTimeout(killTimer)
      resolveResult({exitCode: signal ? null : (code ?? 0), signal: signal ?? null, interrupted, start, duration: Date.now() - start})
    })
  })
}
