/**
 * `velo snapshot` without oclif: the hot path of the CLI (an unchanged re-snapshot must cost little
 * more than a stat walk, and loading oclif costs about 120 ms). bin/run.js routes here when the
 * arguments parse; anything else (help, unknown flags) goes to the oclif command, which renders
 * through the same functions.
 */
import {parseArgs} from 'node:util'
import type {SnapshotResult} from '../api/snapshot.js'
import {repoRootOf, snapshotViaMount} from '../mount/mountControlClient.js'
import {createProgress} from '../ui/createProgress.js'
import {writeJsonLine} from '../ui/jsonLines.js'
import {VeloError} from '../util/errors.js'
import {humanBytes, reportError} from './output.js'
import {scanUpdate} from './progressUpdates.js'

export interface SnapshotCliArgs {
  dir: string
  repo?: string
  ref?: string
  message?: string
  meta: string[]
  skipUnreadable: boolean
  /** Sign with the repository key (velo key generate). */
  sign?: boolean
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
  const parts = r.mount
    ? [`mount of ${r.mount.snapshot.slice(0, 12)}`, humanBytes(r.bytes), `${r.hashedFiles} changed files read`, `${r.newObjects} new objects`, `${humanBytes(r.storedBytes)} stored`]
    : [`${r.files} files`, humanBytes(r.bytes), `${r.hashedFiles} read`, `${r.newObjects} new objects`, `${humanBytes(r.storedBytes)} stored`]
  lines.push(`snapshot ${r.ref ?? '(no ref)'}: ${parts.join(', ')}`)
  if (r.skipped.length > 0) lines.push(`skipped ${r.skipped.length} unreadable files`)
  lines.push(r.id)
  return lines.join('\n')
}

/**
 * Runs the snapshot with progress and prints the result: the human lines (the last one is the id),
 * or with --json one line {"type":"summary", ...SnapshotResult} after any progress/warning events.
 */
export async function runSnapshot(a: SnapshotCliArgs): Promise<number> {
  const progress = createProgress({command: 'snapshot', json: a.json, quiet: a.quiet})
  let ok = false
  let r: SnapshotResult
  try {
    const meta = parseMeta(a.meta)
    await progress.ready()
    // A velo mount: its server makes the snapshot (its indexes and trees are loaded already).
    const warn = (m: string): void => progress.warn(m)
    r = (await snapshotViaMount(repoRootOf(a.repo), a.dir, {ref: a.ref, message: a.message, meta, sign: a.sign}, warn)) ?? (await snapshotHere(a, meta, progress))
    ok = true
  } finally {
    await progress.done(ok)
  }
  if (a.json) writeJsonLine({type: 'summary', ...r})
  else process.stdout.write(renderSnapshot(r) + '\n')
  return r.skipped.length > 0 ? 3 : 0
}

/** The snapshot made by this process (the repository code is loaded only here). */
async function snapshotHere(a: SnapshotCliArgs, meta: Record<string, string>, progress: ReturnType<typeof createProgress>): Promise<SnapshotResult> {
  const [{Repository}, {snapshot}] = await Promise.all([import('../repo/Repository.js'), import('../api/snapshot.js')])
  const repo = Repository.open(a.repo, {create: true})
  try {
    const r = await snapshot(repo, {
      dir: a.dir,
      ref: a.ref,
      message: a.message,
      meta,
      skipUnreadable: a.skipUnreadable,
      sign: a.sign ? (await import('../audit/signingKey.js')).loadSigningKey(repo) : undefined,
      onWarning: (m) => progress.warn(m),
      onProgress: (p) => progress.update(scanUpdate(p)),
    })
    // Every snapshot adds a small metadata pack: consolidate them now and then (never waits for a lock).
    if (repo.packs.packs.filter((p) => p.index.kind === 'meta').length > 50) {
      await (await import('../maintenance/repack.js')).maybeAutoRepack(repo, {onWarning: (m) => progress.warn(m)})
    }
    return r
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
        sign: {type: 'boolean'},
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
      sign: values.sign ?? false,
      json: values.json ?? process.env.VELO_CONTENT_TYPE?.toLowerCase() === 'json',
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
