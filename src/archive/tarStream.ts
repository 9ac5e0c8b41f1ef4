/**
 * The only import of tar-stream (adapter). tar-stream's streams are streamx streams; they work
 * with node:stream pipeline() and async iteration. Only the tar commands load this file.
 */
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import type {Readable, Writable} from 'node:stream'
import tarStream from 'tar-stream'

export type TarEntryType = tarStream.Header['type'] | 'pax-header' | 'pax-global-header' | 'gnu-long-path' | 'gnu-long-link-path'

/** A header as tar-stream decodes it (pax records included) or as velo encodes it. */
export interface TarHeader {
  name: string
  type?: TarEntryType | null
  mode?: number
  uid?: number
  gid?: number
  size?: number
  mtime?: Date
  linkname?: string | null
  uname?: string
  gname?: string
  /** Extended (pax) records of the entry: decoded on read, written on pack when set. */
  pax?: Record<string, string> | null
}

export interface TarPack extends Readable {
  /** Adds an entry whose whole content is given (the fast path for small files). */
  entry(header: TarHeader, content: Buffer, callback?: (err?: Error | null) => void): Writable
  /** Adds an entry whose content is written to the returned stream (large files) or that has none. */
  entry(header: TarHeader, callback?: (err?: Error | null) => void): Writable
  finalize(): void
}

export type EntryListener = (header: TarHeader, content: Readable, next: (err?: unknown) => void) => void

export interface TarExtract extends Writable {
  onEntry(listener: EntryListener): void
}

export function createTarPack(): TarPack {
  return tarStream.pack() as unknown as TarPack
}

/** A tar parser for ustar, pax and GNU archives (old v7 headers too: they have no magic). */
export function createTarExtract(): TarExtract {
  const ex = tarStream.extract({allowUnknownFormat: true} as Parameters<typeof tarStream.extract>[0])
  return Object.assign(ex as unknown as Writable, {
    onEntry(listener: EntryListener): void {
      ex.on('entry', listener as unknown as (...args: unknown[]) => void)
    },
  })
}

interface HeaderCodec {
  encode(h: TarHeader): Buffer | null
  encodePax(h: {name: string; linkname?: string | null; pax?: Record<string, string> | null}): Buffer
}

let codec: HeaderCodec | undefined

/**
 * tar-stream's own header codec (headers.js, what its pack stream encodes every entry with). The
 * package exports only its streams, so it is loaded by path; the version is pinned (3.2.2).
 */
function headerCodec(): HeaderCodec {
  if (!codec) {
    const require = createRequire(import.meta.url)
    codec = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as HeaderCodec
  }
  return codec
}

const ZEROS = Buffer.alloc(1024)

/** The zero bytes that pad `size` bytes of content to whole 512-byte records. */
export function tarPadding(size: number): Buffer {
  const r = size & 511
  return r === 0 ? ZEROS.subarray(0, 0) : ZEROS.subarray(0, 512 - r)
}

/** The end of an archive: two zero records. */
export const TAR_END: Buffer = ZEROS

/**
 * The header records of an entry, byte for byte what tar-stream's pack stream writes before the
 * content (pack.js _encode/_encodePax, for the complete headers velo makes): a ustar header, or a
 * pax header, its records (padded) and the ustar header when the name or link target does not fit
 * ustar, or `pax` is set. Lets a writer lay out many entries into large buffers itself instead of
 * paying for one stream per entry (about 14 us each).
 */
export function encodeTarHeader(h: TarHeader): Buffer[] {
  const c = headerCodec()
  if (!h.pax) {
    const b = c.encode(h)
    if (b) return [b]
  }
  const records = c.encodePax({name: h.name, linkname: h.linkname, pax: h.pax})
  const paxHeader: TarHeader = {name: 'PaxHeader', mode: h.mode, uid: h.uid, gid: h.gid, size: records.length, mtime: h.mtime, type: 'pax-header', linkname: h.linkname && 'PaxHeader', uname: h.uname, gname: h.gname}
  const first = c.encode(paxHeader)
  const main = c.encode({...paxHeader, size: h.size, type: h.type})
  if (!first || !main) throw new Error(`tar-stream could not encode the pax header of ${h.name}`)
  return [first, records, tarPadding(records.length), main]
}
