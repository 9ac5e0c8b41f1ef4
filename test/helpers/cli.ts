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

/** Modules no command may load unless it uses them (ink: only to draw on a terminal). */
export const HEAVY: Record<string, RegExp> = {
  ink: /\/node_modules\/(ink|react|react-reconciler|yoga-layout)\//,
  'fuse-native': /\/node_modules\/fuse-native\//,
  'isomorphic-git': /\/node_modules\/isomorphic-git\//,
  's3 client': /\/node_modules\/(aws4fetch|@aws-sdk)\//,
  'tar-stream': /\/node_modules\/tar-stream\//,
}

/** What a command may load once its module is loaded (it uses it). */
export const USES: Record<string, string[]> = {
  'import tar': ['tar-stream'],
  'export tar': ['tar-stream'],
  'import git': ['isomorphic-git'],
  'export git': ['isomorphic-git'],
}

/** node arguments and environment that make a velo process list every module it loads in `log` (test/helpers/recordModules.mjs). */
export function recordModules(log: string): {nodeArgs: string[]; env: Record<string, string>} {
  return {nodeArgs: ['--import', join(ROOT, 'test/helpers/recordModules.mjs')], env: {VELO_TEST_MODULE_LOG: log}}
}

/** The HEAVY modules named in a module log written by recordModules(). */
export function heavyIn(log: string): string[] {
  let paths: string[] = []
  try {
    paths = readFileSync(log, 'utf8').split('\n')
  } catch {
    // nothing recorded
  }
  return Object.entries(HEAVY)
    .filter(([, re]) => paths.some((p) => re.test(p)))
    .map(([name]) => name)
}
