/**
 * `velo snapshot` without oclif: the hot path of the CLI (an unchanged re-snapshot must cost little
 * more than a stat walk, and loading oclif costs about 120 ms). bin/run.js routes here when the
 * arguments parse; anything else (help, unknown flags) goes to the oclif command, which renders
 * through the same functions.
 */
import {parseArgs} from 'node:util'
import {snapshot, type SnapshotResult} from '../api/snapshot.js'
import {Repository} from '../repo/Repository.js'
import {VeloError} from '../util/errors.js'
import {humanBytes, reportError, warn} from './output.js'

export interface SnapshotCliArgs {
  dir: string
  repo?: string
  ref?: string
  message?: string
  meta: string[]
  skipUnreadable: boolean
  json: boolean
  quiet: boolean
}

export function parseMeta(items: string[]): Record<string, string> {
  const meta: Record<string, string> = {}
  for (const kv of items) {
    const i = kv.indexOf('=')
    if (i <= 0) throw new VeloError('ERR_VELO_USAGE', `--meta takes KEY=VALUE, got ${JSON.stringify(kv)}`)
    meta[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return meta
}

export function renderSnapshot(r: SnapshotResult): string {
  const lines: string[] = []
  const parts = [`${r.files} files`, humanBytes(r.bytes), `${r.hashedFiles} read`, `${r.newObjects} new objects`, `${humanBytes(r.storedBytes)} stored`]
  lines.push(`snapshot ${r.ref ?? '(no ref)'}: ${parts.join(', ')}`)
  if (r.skipped.length > 0) lines.push(`skipped ${r.skipped.length} unreadable files`)
  lines.push(r.id)
  return lines.join('\n')
}

export async function runSnapshot(a: SnapshotCliArgs): Promise<number> {
  const warnings: string[] = []
  const onWarning = (m: string): void => {
    warnings.push(m)
    warn(m)
  }
  const repo = Repository.open(a.repo, {create: true})
  try {
    const r = await snapshot(repo, {
      dir: a.dir,
      ref: a.ref,
      message: a.message,
      meta: parseMeta(a.meta),
      skipUnreadable: a.skipUnreadable,
      onWarning,
    })
    if (a.json) process.stdout.write(JSON.stringify(r) + '\n')
    else process.stdout.write(renderSnapshot(r) + '\n')
    return r.skipped.length > 0 ? 3 : 0
  } finally {
    repo.close()
  }
}

/** Parses argv (after "snapshot"); undefined means "let oclif handle it". */
export function parseSnapshotArgv(argv: string[]): SnapshotCliArgs | undefined {
  try {
    const {values, positionals} = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        repo: {type: 'string'},
        ref: {type: 'string'},
        message: {type: 'string', short: 'm'},
        meta: {type: 'string', multiple: true},
        'skip-unreadable': {type: 'boolean'},
        json: {type: 'boolean'},
        quiet: {type: 'boolean', short: 'q'},
      },
    })
    if (positionals.length > 1) return undefined
    return {
      dir: positionals[0] ?? '.',
      repo: values.repo ?? process.env.VELO_REPO,
      ref: values.ref,
      message: values.message,
      meta: values.meta ?? [],
      skipUnreadable: values['skip-unreadable'] ?? false,
      json: values.json ?? false,
      quiet: values.quiet ?? false,
    }
  } catch {
    return undefined
  }
}

export async function fastSnapshot(argv: string[]): Promise<boolean> {
  const a = parseSnapshotArgv(argv)
  if (!a) return false
  try {
    process.exitCode = await runSnapshot(a)
  } catch (err) {
    process.exitCode = reportError(err, a.json)
  }
  return true
}
