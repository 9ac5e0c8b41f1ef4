/** `velo log --runs [REF]`: the chain of runs of a ref (newest first), or of every ref that holds runs. */
import type {Oid} from '../objects/oid.js'
import type {RunRecord} from '../objects/runRecord.js'
import {ObjectType} from '../pack/block.js'
import type {Repository} from '../repo/Repository.js'
import {readRun, resolveRun} from '../run/readRun.js'
import {exitCodeOf} from './run.js'

export interface RunLogEntry {
  id: Oid
  refs: string[]
  previous: Oid | null
  time: string
  durationMs: number
  user: string
  host: string
  argv: string[]
  cwd: string
  input: Oid
  output: Oid
  exitCode: number | null
  signal: string | null
  interrupted: boolean
  /** velo run's exit code for this run (exitCode, 128+N for a signal, 130 when interrupted). */
  status: number
  mode: RunRecord['mode']
  signed: boolean
}

export function toRunLogEntry(id: Oid, r: RunRecord, refs: string[] = []): RunLogEntry {
  return {
    id,
    refs,
    previous: r.previous,
    time: new Date(r.start).toISOString(),
    durationMs: r.duration,
    user: r.user,
    host: r.host,
    argv: r.argv,
    cwd: r.cwd,
    input: r.input,
    output: r.output,
    exitCode: r.exitCode,
    signal: r.signal,
    interrupted: r.interrupted,
    status: exitCodeOf(r),
    mode: r.mode,
    signed: Boolean(r.signature),
  }
}

export function runLog(repo: Repository, o: {rev?: string; limit?: number} = {}): RunLogEntry[] {
  const limit = o.limit ?? Infinity
  const all = repo.refs.list()
  const refsAt = new Map<string, string[]>()
  for (const r of all) refsAt.set(r.oid, [...(refsAt.get(r.oid) ?? []), r.name])
  const starts = o.rev ? [resolveRun(repo, o.rev)] : all.filter((r) => repo.packs.typeOf(r.oid) === ObjectType.run).map((r) => r.oid)
  const seen = new Set<string>()
  const out: RunLogEntry[] = []
  for (const start of starts) {
    let cur: Oid | null = start
    let n = 0
    while (cur && !seen.has(cur) && n < limit) {
      seen.add(cur)
      const r = readRun(repo, cur)
      out.push(toRunLogEntry(cur, r, refsAt.get(cur) ?? []))
      cur = r.previous
      n++
    }
  }
  if (!o.rev) out.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))
  return o.limit ? out.slice(0, o.limit) : out
}
