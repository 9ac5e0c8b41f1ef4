/**
 * The only import of tar-stream (adapter). tar-stream's streams are streamx streams; they work
 * with node:stream pipeline() and async iteration. Only the tar commands load this file.
 */
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
