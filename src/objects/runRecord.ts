/**
 * Run record codec: what `velo run` recorded about one command. Layout (docs/format.md, "run
 * record"): the 4 bytes "VRN1" followed by canonical UTF-8 JSON: keys in the order of RunRecord
 * below, no whitespace, `env` keys sorted, `redacted` sorted, absent optional keys omitted. The
 * object's id is the BLAKE3 of these bytes; a signature covers the encoding without `signature`.
 */
import {VeloError} from '../util/errors.js'
import {type Oid, isOid} from './oid.js'
import type {Signature} from './snapshot.js'

export const RUN_MAGIC = Buffer.from('VRN1')

/** The value recorded for an environment variable whose name looks like a secret. */
export const REDACTED = '[redacted]'

export interface RunOutput {
  /** Blob (or chunk list) id of the bytes the command wrote. */
  id: Oid
  size: number
}

/**
 * The files the command read or wrote, in the order of their first access (paths relative to the
 * input root). Long lists are stored as a blob (one JSON string per line) named by `blob`.
 */
export type RunTrace = {count: number; paths: string[]} | {count: number; blob: Oid}

export interface RunRecord {
  /** Snapshot the command ran on. */
  input: Oid
  /** Snapshot of the tree after the command: the input plus its changes. */
  output: Oid
  /** The run the ref pointed at before this one (the chain of a ref's runs). */
  previous: Oid | null
  argv: string[]
  /** Working directory relative to the input root ('' = the root). */
  cwd: string
  /** The command's whole environment; values of `redacted` names are REDACTED. */
  env: Record<string, string>
  redacted: string[]
  stdout: RunOutput
  stderr: RunOutput
  /** Exit code, or null when the command was ended by a signal. */
  exitCode: number | null
  signal: string | null
  /** velo was interrupted (SIGINT/SIGTERM) while the command ran. */
  interrupted: boolean
  /** Milliseconds since the Unix epoch. */
  start: number
  /** Milliseconds. */
  duration: number
  host: string
  user: string
  /** How the input was provided: a copy-on-write velo mount, or a restored temporary directory. */
  mode: 'mount' | 'materialize'
  /** Null when no trace was taken (materialize mode). */
  trace: RunTrace | null
  /** Version of velo that ran the command. */
  velo: string
  signature?: Signature
}

function sortedRecord(o: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of Object.keys(o).sort()) out[k] = o[k]
  return out
}

export function encodeRunRecord(r: RunRecord): Buffer {
  const canon: Record<string, unknown> = {
    input: r.input,
    output: r.output,
    previous: r.previous,
    argv: r.argv,
    cwd: r.cwd,
    env: sortedRecord(r.env),
    redacted: [...r.redacted].sort(),
    stdout: {id: r.stdout.id, size: r.stdout.size},
    stderr: {id: r.stderr.id, size: r.stderr.size},
    exitCode: r.exitCode,
    signal: r.signal,
    interrupted: r.interrupted,
    start: r.start,
    duration: r.duration,
    host: r.host,
    user: r.user,
    mode: r.mode,
    trace: r.trace === null ? null : 'paths' in r.trace ? {count: r.trace.count, paths: r.trace.paths} : {count: r.trace.count, blob: r.trace.blob},
    velo: r.velo,
  }
  if (r.signature) canon.signature = {key: r.signature.key, sig: r.signature.sig}
  return Buffer.concat([RUN_MAGIC, Buffer.from(JSON.stringify(canon), 'utf8')])
}

/** The bytes a signature covers: the encoding without `signature`. */
export function runSigningPayload(r: RunRecord): Buffer {
  const {signature: _omit, ...rest} = r
  return encodeRunRecord(rest)
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0

/** A path relative to the input root as records hold them: no leading or trailing '/', no '', '.' or '..' segment. */
export function isRelPath(p: unknown): p is string {
  return typeof p === 'string' && !p.startsWith('/') && !p.endsWith('/') && !p.includes('\0') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..')
}

export function decodeRunRecord(buf: Uint8Array, where = 'run record'): RunRecord {
  const bad = (msg: string): never => {
    throw new VeloError('ERR_VELO_CORRUPT', `corrupt ${where}: ${msg}`, {hint: 'run velo verify'})
  }
  if (buf.length < 6 || Buffer.compare(Buffer.from(buf.buffer, buf.byteOffset, 4), RUN_MAGIC) !== 0) bad('bad magic')
  let o: Record<string, unknown>
  try {
    o = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(buf.subarray(4)))
  } catch (err) {
    return bad((err as Error).message)
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('not an object')
  const oid = (k: string): Oid => (typeof o[k] === 'string' && isOid(o[k] as string) ? (o[k] as Oid) : bad(`bad ${k} id`))
  const str = (k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : bad(`bad ${k}`))
  const out = (k: string): RunOutput => {
    const x = o[k] as Record<string, unknown>
    if (typeof x !== 'object' || x === null || typeof x.id !== 'string' || !isOid(x.id) || !isCount(x.size)) bad(`bad ${k}`)
    return {id: x.id as Oid, size: x.size as number}
  }
  const argv = o.argv
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) bad('bad argv')
  if (o.cwd !== '' && !isRelPath(o.cwd)) bad('bad cwd')
  const env = o.env as Record<string, unknown>
  if (typeof env !== 'object' || env === null || Array.isArray(env) || !Object.values(env).every((v) => typeof v === 'string')) bad('bad env')
  const redacted = o.redacted
  if (!Array.isArray(redacted) || !redacted.every((n) => typeof n === 'string' && Object.hasOwn(env, n) && env[n] === REDACTED)) bad('bad redacted')
  if (new Set(redacted as string[]).size !== (redacted as string[]).length) bad('duplicate redacted names')
  if (o.exitCode !== null && !(typeof o.exitCode === 'number' && Number.isInteger(o.exitCode) && o.exitCode >= 0 && o.exitCode <= 255)) bad('bad exitCode')
  if (o.signal !== null && !(typeof o.signal === 'string' && /^SIG[A-Z0-9]+$/.test(o.signal))) bad('bad signal')
  if ((o.exitCode === null) === (o.signal === null)) bad('exactly one of exitCode and signal must be set')
  if (typeof o.interrupted !== 'boolean') bad('bad interrupted')
  for (const k of ['start', 'duration']) if (!isCount(o[k])) bad(`bad ${k}`)
  if (o.mode !== 'mount' && o.mode !== 'materialize') bad('bad mode')
  let trace: RunTrace | null = null
  if (o.trace !== null) {
    const t = o.trace as Record<string, unknown>
    if (typeof t !== 'object' || t === null || !isCount(t.count)) bad('bad trace')
    if (Array.isArray(t.paths) && t.blob === undefined) {
      if (!t.paths.every(isRelPath) || t.paths.length !== t.count) bad('bad trace paths')
      trace = {count: t.count as number, paths: t.paths as string[]}
    } else if (typeof t.blob === 'string' && isOid(t.blob) && t.paths === undefined) {
      trace = {count: t.count as number, blob: t.blob as Oid}
    } else bad('bad trace')
  }
  const r: RunRecord = {
    input: oid('input'),
    output: oid('output'),
    previous: o.previous === null ? null : oid('previous'),
    argv: argv as string[],
    cwd: o.cwd as string,
    env: env as Record<string, string>,
    redacted: redacted as string[],
    stdout: out('stdout'),
    stderr: out('stderr'),
    exitCode: o.exitCode as number | null,
    signal: o.signal as string | null,
    interrupted: o.interrupted as boolean,
    start: o.start as number,
    duration: o.duration as number,
    host: str('host'),
    user: str('user'),
    mode: o.mode as RunRecord['mode'],
    trace,
    velo: str('velo'),
  }
  if (o.signature !== undefined) {
    const sig = o.signature as Record<string, unknown>
    if (typeof sig?.key !== 'string' || typeof sig?.sig !== 'string') bad('bad signature')
    r.signature = {key: sig.key as string, sig: sig.sig as string}
  }
  // Only the canonical encoding is a run record: no whitespace or trailing bytes, no unknown or
  // duplicate keys, keys in order, env and redacted sorted (one record, one id).
  if (!encodeRunRecord(r).equals(buf)) bad('not in canonical form')
  return r
}

/** Trace blob format: one JSON string per line. */
export function encodeTraceList(paths: string[]): Buffer {
  return Buffer.from(paths.map((p) => JSON.stringify(p) + '\n').join(''), 'utf8')
}

export function decodeTraceList(buf: Uint8Array, where = 'access trace'): string[] {
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString('utf8')
  if (text === '') return []
  if (!text.endsWith('\n')) throw new VeloError('ERR_VELO_CORRUPT', `corrupt ${where}: no final newline`)
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => {
      try {
        const p = JSON.parse(l) as unknown
        if (isRelPath(p)) return p
      } catch {
        /* reported below */
      }
      throw new VeloError('ERR_VELO_CORRUPT', `corrupt ${where}: bad line ${JSON.stringify(l.slice(0, 80))}`)
    })
}
