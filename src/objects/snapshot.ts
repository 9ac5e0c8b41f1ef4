/**
 * Snapshot codec. Layout (docs/format.md, "snapshot"): the 4 bytes "VSN1" followed by canonical
 * UTF-8 JSON: keys in the order below, no whitespace, `meta` keys sorted, absent optional keys omitted.
 */
import {VeloError} from '../util/errors.js'
import {type Oid, isOid} from './oid.js'

export const SNAPSHOT_MAGIC = Buffer.from('VSN1')

export interface Signature {
  /** Public key, base64 of the raw 32-byte Ed25519 key. */
  key: string
  /** Base64 Ed25519 signature over the encoding of the snapshot without `signature`. */
  sig: string
}

export interface Snapshot {
  tree: Oid
  parents: Oid[]
  /** Milliseconds since the Unix epoch. */
  time: number
  user: string
  host: string
  message: string
  meta: Record<string, string>
  signature?: Signature
}

export function encodeSnapshot(s: Snapshot): Buffer {
  const meta: Record<string, string> = {}
  for (const k of Object.keys(s.meta).sort()) meta[k] = s.meta[k]
  const canon: Record<string, unknown> = {
    tree: s.tree,
    parents: s.parents,
    time: s.time,
    user: s.user,
    host: s.host,
    message: s.message,
    meta,
  }
  if (s.signature) canon.signature = {key: s.signature.key, sig: s.signature.sig}
  return Buffer.concat([SNAPSHOT_MAGIC, Buffer.from(JSON.stringify(canon), 'utf8')])
}

export function decodeSnapshot(buf: Uint8Array, where = 'snapshot'): Snapshot {
  const bad = (msg: string): never => {
    throw new VeloError('ERR_VELO_CORRUPT', `corrupt ${where}: ${msg}`, {hint: 'run velo fsck'})
  }
  if (buf.length < 6 || Buffer.compare(Buffer.from(buf.buffer, buf.byteOffset, 4), SNAPSHOT_MAGIC) !== 0) {
    bad('bad magic')
  }
  let o: Record<string, unknown>
  try {
    o = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(buf.subarray(4)))
  } catch (err) {
    return bad((err as Error).message)
  }
  if (typeof o !== 'object' || o === null) bad('not an object')
  if (typeof o.tree !== 'string' || !isOid(o.tree)) bad('bad tree id')
  if (!Array.isArray(o.parents) || !o.parents.every((p) => typeof p === 'string' && isOid(p))) bad('bad parents')
  if (typeof o.time !== 'number' || !Number.isFinite(o.time)) bad('bad time')
  for (const k of ['user', 'host', 'message'] as const) if (typeof o[k] !== 'string') bad(`bad ${k}`)
  const meta = o.meta as Record<string, unknown>
  if (typeof meta !== 'object' || meta === null || !Object.values(meta).every((v) => typeof v === 'string')) {
    bad('bad meta')
  }
  const s: Snapshot = {
    tree: o.tree as Oid,
    parents: o.parents as Oid[],
    time: o.time as number,
    user: o.user as string,
    host: o.host as string,
    message: o.message as string,
    meta: meta as Record<string, string>,
  }
  if (o.signature !== undefined) {
    const sig = o.signature as Record<string, unknown>
    if (typeof sig?.key !== 'string' || typeof sig?.sig !== 'string') bad('bad signature')
    s.signature = {key: sig.key as string, sig: sig.sig as string}
  }
  // Only the canonical encoding is a snapshot: no whitespace or trailing bytes, no unknown or
  // duplicate keys, keys in order, meta sorted (one snapshot, one id).
  if (!encodeSnapshot(s).equals(buf)) bad('not in canonical form')
  return s
}
