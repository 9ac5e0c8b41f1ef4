/** Helpers for the CLI-experience tests: the built command list and NDJSON output. */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {ROOT} from './velo.js'

export interface ManifestEntry {
  id: string
  summary?: string
  hidden?: boolean
  examples?: unknown[]
  enableJsonFlag?: boolean
  flags?: Record<string, {name: string}>
}

/** Every command of the build (oclif.manifest.json, written by npm run build). */
export function manifestCommands(): ManifestEntry[] {
  const m = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, ManifestEntry>}
  return Object.values(m.commands).filter((c) => !c.hidden)
}

/** The command's words, as typed: `ref set` -> ['ref', 'set']. */
export function words(id: string): string[] {
  return id.split(/[: ]/)
}

/** Every line of stdout parsed as JSON (fails with the line when one is not JSON). */
export function jsonLines(stdout: string): unknown[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as unknown
      } catch {
        throw new Error(`not a JSON line: ${l}`)
      }
    })
}

/** The last line of --json output: the result (object or array) or the error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function lastJson<T = any>(stdout: string): T {
  const all = jsonLines(stdout)
  if (all.length === 0) throw new Error('no JSON output')
  return all[all.length - 1] as T
}
