import {describe, expect, it} from 'vitest'
import {flips, truncations} from '../../test/helpers/codec.js'
import {hash} from '../objects/hash.js'
import type {EntryKind} from '../objects/tree.js'
import {varintLength, writeVarint} from '../util/varint.js'
import {decodeStatCache, encodeStatCache, makeEntry, type CachedDir, type StatCache} from './statCache.js'

interface Plain {
  name: string
  kind: EntryKind
  size: number
  ino: number
  mtimeMs: number
  ctimeMs: number
  id?: string
  target?: string
}

function entry(p: Plain): ReturnType<typeof makeEntry> {
  const e = makeEntry(p.name, p.kind, p.size, p.ino, p.mtimeMs, p.ctimeMs)
  if (p.kind === 'symlink') e.target = p.target
  else {
    e.idBuf = Buffer.from(p.id!, 'hex')
    e.idOff = 0
  }
  return e
}

/** The cache as plain data (independent of how entries hold their ids). */
function plain(c: StatCache): unknown {
  return {
    writtenAt: c.writtenAt,
    dirs: [...c.dirs.values()].map((d) => ({
      rel: d.rel,
      ino: d.ino,
      mtimeMs: d.mtimeMs,
      ctimeMs: d.ctimeMs,
      treeId: Buffer.from(d.treeId).toString('hex'),
      size: d.size,
      entries: d.entries.map((e) => ({
        name: e.name,
        kind: e.kind,
        size: e.size,
        ino: e.ino,
        mtimeMs: e.mtimeMs,
        ctimeMs: e.ctimeMs,
        ...(e.kind === 'symlink' ? {target: e.target} : {id: Buffer.from(e.idBuf!.subarray(e.idOff, e.idOff + 32)).toString('hex')}),
      })),
    })),
  }
}

const hex = (s: string): string => hash(Buffer.from(s)).toString('hex')

function sample(): StatCache {
  const root: CachedDir = {
    rel: '',
    ino: 2 ** 40 + 3, // inode numbers above 2^32 survive
    mtimeMs: 1764000000123.4567, // sub-millisecond precision survives
    ctimeMs: 1764000000999.0001,
    treeId: hash(Buffer.from('root')),
    size: 2 ** 33,
    entries: [
      entry({name: 'a.txt', kind: 'file', size: 6, ino: 11, mtimeMs: 1.5, ctimeMs: 2.25, id: hex('a')}),
      entry({name: 'bin', kind: 'dir', size: 300, ino: 12, mtimeMs: 3, ctimeMs: 4, id: hex('bin')}),
      entry({name: 'link', kind: 'symlink', size: 5, ino: 13, mtimeMs: 5, ctimeMs: 6, target: 'a.txt'}),
      entry({name: 'über café', kind: 'exec', size: 2 ** 40, ino: 14, mtimeMs: 7, ctimeMs: 8, id: hex('ü')}),
    ],
  }
  const bin: CachedDir = {rel: 'bin', ino: 12, mtimeMs: 3, ctimeMs: 4, treeId: Buffer.from(hex('bin'), 'hex'), size: 300, entries: []}
  return {writtenAt: 1764000001000.5, dirs: new Map([['', root], ['bin', bin]])}
}

describe('stat cache codec', () => {
  it('round-trips every field exactly', () => {
    const c = sample()
    const bytes = encodeStatCache(c)
    const back = decodeStatCache(Buffer.from(bytes))
    expect(back).toBeDefined()
    expect(plain(back!)).toEqual(plain(c))
    expect(encodeStatCache(back!).equals(bytes)).toBe(true)
  })

  it('follows the documented layout', () => {
    // "VSC1" f64 writtenAt, varint dirCount; per dir: str rel, f64 ino, mtimeMs, ctimeMs, 32-byte
    // tree id, varint size, varint count; per entry: u8 kind, str name, varint size, f64 ino,
    // mtimeMs, ctimeMs, then str target (symlink) or 32-byte id.
    const parts: Buffer[] = []
    const v = (n: number): void => {
      const b = Buffer.alloc(varintLength(n))
      writeVarint(b, 0, n)
      parts.push(b)
    }
    const f = (n: number): void => {
      const b = Buffer.alloc(8)
      b.writeDoubleLE(n)
      parts.push(b)
    }
    const s = (x: string): void => {
      v(Buffer.byteLength(x))
      parts.push(Buffer.from(x))
    }
    parts.push(Buffer.from('VSC1'))
    f(1000)
    v(1)
    s('')
    f(1)
    f(2)
    f(3)
    parts.push(Buffer.from(hex('t'), 'hex'))
    v(10)
    v(2)
    parts.push(Buffer.from([1])) // exec
    s('run')
    v(10)
    f(4)
    f(5)
    f(6)
    parts.push(Buffer.from(hex('run'), 'hex'))
    parts.push(Buffer.from([2])) // symlink
    s('l')
    v(3)
    f(7)
    f(8)
    f(9)
    s('run')
    const c = decodeStatCache(Buffer.concat(parts))
    expect(c && plain(c)).toEqual({
      writtenAt: 1000,
      dirs: [
        {
          rel: '',
          ino: 1,
          mtimeMs: 2,
          ctimeMs: 3,
          treeId: hex('t'),
          size: 10,
          entries: [
            {name: 'run', kind: 'exec', size: 10, ino: 4, mtimeMs: 5, ctimeMs: 6, id: hex('run')},
            {name: 'l', kind: 'symlink', size: 3, ino: 7, mtimeMs: 8, ctimeMs: 9, target: 'run'},
          ],
        },
      ],
    })
  })

  it('treats any damage as "no cache" and never throws: truncations, trailing bytes, bad magic, bad kind', () => {
    const bytes = Buffer.from(encodeStatCache(sample()))
    for (const t of truncations(bytes)) expect(decodeStatCache(Buffer.from(t)), `truncated to ${t.length}`).toBeUndefined()
    expect(decodeStatCache(Buffer.concat([bytes, Buffer.alloc(1)]))).toBeUndefined()
    expect(decodeStatCache(Buffer.concat([Buffer.from('VSC2'), bytes.subarray(4)]))).toBeUndefined()
    const badKind = Buffer.from(bytes)
    const firstKind = bytes.indexOf(Buffer.from('a.txt')) - 2
    expect(badKind[firstKind]).toBe(0)
    badKind[firstKind] = 9
    expect(decodeStatCache(badKind)).toBeUndefined()
  })

  it('never throws on a flipped byte', () => {
    const bytes = Buffer.from(encodeStatCache(sample()))
    for (const f of flips(bytes, [0x01, 0x80])) expect(() => decodeStatCache(f.bytes), `flip at ${f.pos}`).not.toThrow()
  })
})
