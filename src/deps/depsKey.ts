/**
 * The key of a dependency tree (docs/format.md, "Dependency keys"): BLAKE3 over a length-prefixed
 * encoding of everything that decides what the install produces. Two runs with equal inputs share
 * one key, so the second one provides the tree the first one installed.
 */
import {hash} from '../objects/hash.js'

export const DEPS_KEY_MAGIC = 'velo deps key 1\n'

export interface DepsKeyInputs {
  /** Preset (npm, pnpm, ...) or "custom". */
  manager: string
  /** Key files in the order given: path relative to the project directory, and the file's bytes. */
  files: {path: string; bytes: Uint8Array}[]
  /** The install command, one element per argument. */
  argv: string[]
  /** The runtime's version line (`node --version`...), "" when the command has no known runtime. */
  runtime: string
  /** process.platform and process.arch. */
  platform: string
  arch: string
  /** DIR: relative to the project directory, or absolute for trees that record their own path (venvs). */
  dir: string
}

/** One field: a tag byte, the value's length as 8 bytes big-endian, the value. */
function field(tag: string, value: Uint8Array | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const head = Buffer.alloc(9)
  head.write(tag, 0, 'latin1')
  head.writeBigUInt64BE(BigInt(v.length), 1)
  return Buffer.concat([head, v])
}

/** The bytes the key hashes: the magic line, then m, (f, c)*, a*, r, p, h, d fields in this order. */
export function encodeDepsKeyInputs(i: DepsKeyInputs): Buffer {
  const parts: Buffer[] = [Buffer.from(DEPS_KEY_MAGIC, 'latin1'), field('m', i.manager)]
  for (const f of i.files) parts.push(field('f', f.path), field('c', f.bytes))
  for (const a of i.argv) parts.push(field('a', a))
  parts.push(field('r', i.runtime), field('p', i.platform), field('h', i.arch), field('d', i.dir))
  return Buffer.concat(parts)
}

/** The key: 64 lowercase hex digits. */
export function depsKey(i: DepsKeyInputs): string {
  return hash(encodeDepsKeyInputs(i)).toString('hex')
}

/** The ref a key's snapshot is recorded under, locally and on remotes. */
export function depsRef(key: string): string {
  return `deps/${key}`
}
