/**
 * Chooses how a command shows progress:
 *   --json                      NDJSON events on stdout (warnings only with --quiet)
 *   --quiet                     nothing (warnings still go to stderr)
 *   stdout and stderr terminals, CI unset: the ink view on stderr
 *   otherwise                   plain lines on stderr, at most one a second
 * $VELO_PROGRESS (ink, plain, none) overrides the choice for terminals and pipes (not --json);
 * $VELO_PROGRESS_INTERVAL_MS sets the interval of plain lines and NDJSON events (default 1000),
 * $VELO_PROGRESS_DELAY_MS how long a command runs before the ink view appears (default 300).
 */
import {InkProgress} from './InkProgress.js'
import {JsonProgress} from './JsonProgress.js'
import {PlainProgress} from './PlainProgress.js'
import type {ProgressMode, ProgressReporter} from './ProgressEvent.js'

export interface ProgressChoice {
  command: string
  json?: boolean
  quiet?: boolean
  env?: NodeJS.ProcessEnv
  stdout?: {isTTY?: boolean}
  stderr?: {isTTY?: boolean}
  /** Where NDJSON events go (default: a line on stdout). */
  writeJson?: (value: unknown) => void
}

/** True when $CI is set to anything but "", "0" or "false" (as ink's is-in-ci sees it, roughly). */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false'
}

export function progressMode(c: ProgressChoice): ProgressMode {
  const env = c.env ?? process.env
  if (c.json) return 'json'
  if (c.quiet) return 'quiet'
  const forced = env.VELO_PROGRESS
  if (forced === 'ink' || forced === 'plain') return forced
  if (forced === 'none' || forced === 'quiet') return 'quiet'
  const out = c.stdout ?? process.stdout
  const err = c.stderr ?? process.stderr
  return out.isTTY && err.isTTY && !isCI(env) ? 'ink' : 'plain'
}

function msFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name]
  const n = Number(v)
  return v !== undefined && v !== '' && Number.isFinite(n) && n >= 0 ? n : fallback
}

class QuietProgress implements ProgressReporter {
  readonly mode: ProgressMode = 'quiet'
  update(): void {}
  warn(message: string): void {
    process.stderr.write(`velo: warning: ${message}\n`)
  }
  async ready(): Promise<void> {}
  async done(): Promise<void> {}
}

export function createProgress(c: ProgressChoice): ProgressReporter {
  const env = c.env ?? process.env
  const mode = progressMode(c)
  switch (mode) {
    case 'json':
      return new JsonProgress({command: c.command, intervalMs: msFromEnv(env, 'VELO_PROGRESS_INTERVAL_MS', 1000), quiet: c.quiet, write: c.writeJson})
    case 'quiet':
      return new QuietProgress()
    case 'ink':
      return new InkProgress({command: c.command, stream: process.stderr, delayMs: msFromEnv(env, 'VELO_PROGRESS_DELAY_MS', 300), intervalMs: 100})
    default:
      return new PlainProgress({command: c.command, intervalMs: msFromEnv(env, 'VELO_PROGRESS_INTERVAL_MS', 1000)})
  }
}
