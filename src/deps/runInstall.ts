/**
 * Runs the install command of `velo deps` in the project directory with velo's stdin, stdout and
 * stderr (stdout to stderr when velo's stdout carries JSON). A failure exits with the command's code.
 */
import {spawn} from 'node:child_process'
import {constants} from 'node:os'
import {resolveCommand} from '../run/execCommand.js'
import {VeloError} from '../util/errors.js'

export interface InstallOptions {
  argv: string[]
  cwd: string
  env: Record<string, string>
  /** Where the command's stdout goes: velo's stdout, or stderr (--json). */
  stdout: 'stdout' | 'stderr'
}

export interface InstallResult {
  argv: string[]
  exitCode: number
  seconds: number
}

export async function runInstall(o: InstallOptions): Promise<InstallResult> {
  const started = Date.now()
  const env = {...(process.env as Record<string, string>), ...o.env}
  // Exit 127/126 with a hint when the program is missing, as shells do.
  const file = await resolveCommand(o.argv[0] ?? '', o.cwd, env)
  const child = spawn(file, o.argv.slice(1), {cwd: o.cwd, env, argv0: o.argv[0], stdio: ['inherit', o.stdout === 'stdout' ? 1 : 2, 'inherit']})
  // Ctrl-C reaches the command through the terminal; velo waits for it to finish.
  const ignore = (): void => undefined
  const sigs = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
  const forward = (sig: NodeJS.Signals) => (): void => void child.kill(sig)
  const handlers = sigs.map((s) => [s, s === 'SIGINT' ? ignore : forward(s)] as const)
  for (const [s, h] of handlers) process.on(s, h)
  try {
    const {code, signal} = await new Promise<{code: number | null; signal: NodeJS.Signals | null}>((res, rej) => {
      child.on('error', rej)
      child.on('close', (c, s) => res({code: c, signal: s}))
    })
    const exitCode = signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 0)
    const seconds = (Date.now() - started) / 1000
    if (exitCode !== 0) {
      throw new VeloError('ERR_VELO_INSTALL_FAILED', `the install command failed (${signal ? `killed by ${signal}` : `exit ${code}`}): ${o.argv.join(' ')}`, {
        hint: 'its output is above; nothing was recorded. Fix the cause and run velo deps again',
        data: {argv: o.argv, exitCode, signal, seconds},
      }).withExitCode(signal === 'SIGINT' ? 130 : exitCode)
    }
    return {argv: o.argv, exitCode, seconds}
  } finally {
    for (const [s, h] of handlers) process.off(s, h)
  }
}
