/**
 * The environment of a recorded command: nothing is inherited implicitly. It is the allow-list
 * below (the names that are set) plus every `--env NAME` (taken from velo's environment) and
 * `--env NAME=VALUE`. Values of names that look like secrets are given to the command but recorded
 * as REDACTED and listed in `redacted`; a replay takes them from its own environment.
 */
import {REDACTED} from '../objects/runRecord.js'
import {VeloError} from '../util/errors.js'

export const ENV_ALLOW_LIST = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_COLLATE', 'LC_MESSAGES', 'LC_NUMERIC', 'LC_TIME', 'TERM', 'TZ', 'TMPDIR']

const SECRET_RE = /TOKEN|SECRET|PASSW|PASSPHRASE|CREDENTIAL|PRIVATE|COOKIE|SESSION|AUTHORIZATION|(^|_)AUTH(_|$)|KEY(_|$)|(^|_)PAT(_|$)/i

/** True for names whose values must not be recorded (AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, API_KEY...). */
export function looksSecret(name: string): boolean {
  return SECRET_RE.test(name)
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/

export interface RunEnv {
  /** What the command gets. */
  actual: Record<string, string>
  /** What is recorded. */
  recorded: Record<string, string>
  redacted: string[]
}

/** Builds the command's environment from velo's and the --env items. */
export function buildRunEnv(items: string[], from: NodeJS.ProcessEnv = process.env): RunEnv {
  const actual: Record<string, string> = {}
  for (const n of ENV_ALLOW_LIST) if (from[n] !== undefined) actual[n] = from[n]!
  for (const item of items) {
    const eq = item.indexOf('=')
    const name = eq < 0 ? item : item.slice(0, eq)
    if (!NAME_RE.test(name)) {
      throw new VeloError('ERR_VELO_USAGE', `--env takes NAME or NAME=VALUE, got ${JSON.stringify(item)}`, {hint: 'e.g. --env CI --env NODE_ENV=production'})
    }
    if (eq >= 0) actual[name] = item.slice(eq + 1)
    else if (from[name] !== undefined) actual[name] = from[name]!
    else delete actual[name] // named but unset: recorded as absent
  }
  return redact(actual)
}

function redact(actual: Record<string, string>): RunEnv {
  const recorded: Record<string, string> = {}
  const redacted: string[] = []
  for (const [k, v] of Object.entries(actual)) {
    if (looksSecret(k)) {
      recorded[k] = REDACTED
      redacted.push(k)
    } else recorded[k] = v
  }
  return {actual, recorded, redacted: redacted.sort()}
}

/**
 * The environment for replaying a record: the recorded values, and for redacted names the value
 * of velo's own environment (listed in `missing` when it has none: the command runs without it).
 */
export function replayEnv(recorded: Record<string, string>, redacted: string[], from: NodeJS.ProcessEnv = process.env): {env: Record<string, string>; missing: string[]} {
  const env: Record<string, string> = {}
  const missing: string[] = []
  const secret = new Set(redacted)
  for (const [k, v] of Object.entries(recorded)) {
    if (!secret.has(k)) env[k] = v
    else if (from[k] !== undefined) env[k] = from[k]!
    else missing.push(k)
  }
  return {env, missing}
}
