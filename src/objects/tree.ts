/**
 * Tree codec. A tree lists a directory's entries sorted by name (UTF-8 byte order).
 * Byte layout (docs/format.md, "tree"):
 *   "VTR1"  varint count  then per entry:
 *   u8 kind (1 file, 2 executable, 3 symlink, 4 dir)  varint nameLen  name (UTF-8)  varint size
 *   kind 1, 2, 4: 32-byte id;  kind 3: `size` bytes of link target (UTF-8)
 * size is the content length for files, the target length for symlinks and the total content
 * bytes of all files below for directories.
 */
import {ByteReader, varintLength, writeVarint} from '../util/varint.js'
import {VeloError} from '../util/errors.js'
import {compareNames, isSafeName} from './names.js'
import {hash} from './hash.js'
import {type Oid, oidFromBytes} from './oid.js'

export const TREE_MAGIC = Buffer.from('VTR1')

export type EntryKind = 'file' | 'exec' | 'symlink' | 'dir'
export const KIND_CODE: Record<EntryKind, number> = {file: 1, exec: 2, symlink: 3, dir: 4}
const CODE_KIND: EntryKind[] = ['file', 'file', 'exec', 'symlink', 'dir']

export interface TreeEntry {
  name: string
  kind: EntryKind
  size: number
  /** Object id of the content (file, exec) or of the subtree (dir); for symlinks BLAKE3 of the target. */
  id: Oid
  /** Link target, only for symlinks. */
  target?: string
}

const utf8 = new TextDecoder('utf-8', {fatal: true})

export function encodeTree(entries: readonly TreeEntry[]): Buffer {
  const names: Buffer[] = new Array(entries.length)
  const targets: (Buffer | undefined)[] = new Array(entries.length)
  let len = 4 + varintLength(entries.length)
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
    if (!isSafeName(e.name)) throw new Error(`encodeTree: unsafe name ${JSON.stringify(e.name)}`)
    if (i > 0 && compareNames(entries[i - 1].name, e.name) >= 0) {
      throw new Error(`encodeTree: entries not sorted or duplicated at ${JSON.stringify(e.name)}`)
    }
    const name = Buffer.from(e.name, 'utf8')
    names[i] = name
    len += 1 + varintLength(name.length) + name.length
    if (e.kind === 'symlink') {
      const t = Buffer.from(e.target ?? '', 'utf8')
      targets[i] = t
      len += varintLength(t.length) + t.length
    } else {
      len += varintLength(e.size) + 32
    }
  }
  const buf = Buffer.allocUnsafe(len)
  TREE_MAGIC.copy(buf, 0)
  let pos = writeVarint(buf, 4, entries.length)
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
    buf[pos++] = KIND_CODE[e.kind]
    pos = writeVarint(buf, pos, names[i].length)
    pos += names[i].copy(buf, pos)
    if (e.kind === 'symlink') {
      const t = targets[i]!
      pos = writeVarint(buf, pos, t.length)
      pos += t.copy(buf, pos)
    } else {
      pos = writeVarint(buf, pos, e.size)
      pos += Buffer.from(e.id, 'hex').copy(buf, pos)
    }
  }
  return buf
}

/** Decodes and validates a tree; rejects unsafe or unsorted names and trailing bytes. */
export function decodeTree(buf: Uint8Array, where = 'tree'): TreeEntry[] {
  try {
    return decode(buf, where)
  } catch (err) {
    if (err instanceof VeloError) throw err
    throw new VeloError('ERR_VELO_CORRUPT', `corrupt ${where}: ${(err as Error).message}`, {
      hint: 'run velo fsck to find the damaged pack',
    })
  }
}

function decode(buf: Uint8Array, where: string): TreeEntry[] {
  if (buf.length < 5 || Buffer.compare(Buffer.from(buf.buffer, buf.byteOffset, 4), TREE_MAGIC) !== 0) {
    throw new RangeError('bad magic')
  }
  const r = new ByteReader(buf, where)
  r.pos = 4
  const count = r.varint()
  if (count > r.remaining) r.fail('entry count larger than the object')
  const out: TreeEntry[] = new Array(count)
  let prev = ''
  for (let i = 0; i < count; i++) {
    const code = r.u8()
    if (code < 1 || code > 4) r.fail(`unknown entry kind ${code}`)
    const kind = CODE_KIND[code]
    const name = utf8.decode(r.bytes(r.varint()))
    if (!isSafeName(name)) {
      throw new VeloError('ERR_VELO_UNSAFE_PATH', `unsafe entry name ${JSON.stringify(name)} in ${where}`, {
        hint: 'the repository is corrupted or hostile; run velo fsck',
      })
    }
    if (i > 0 && compareNames(prev, name) >= 0) r.fail(`entries not sorted at ${JSON.stringify(name)}`)
    prev = name
    if (kind === 'symlink') {
      const tb = r.bytes(r.varint())
      const target = utf8.decode(tb)
      if (target.includes('\0')) r.fail('NUL in link target')
      out[i] = {name, kind, size: tb.length, id: hash(tb).toString('hex') as Oid, target}
    } else {
      const size = r.varint()
      const id = oidFromBytes(r.bytes(32))
      out[i] = {name, kind, size, id}
    }
  }
  if (r.remaining !== 0) r.fail('trailing bytes')
  return out
}
