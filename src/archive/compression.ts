/**
 * Compression of tar archives: detected by magic bytes on input (files and stdin alike), chosen by
 * flag or file name on output. gzip through node:zlib, zstd through the codec adapter.
 */
import {Readable, type Transform} from 'node:stream'
import {createGunzip, createGzip} from 'node:zlib'
import {createZstdCompressStream, createZstdDecompressStream} from '../pack/codec.js'
import {VeloError} from '../util/errors.js'

export type Compression = 'none' | 'gzip' | 'zstd'

const MAGICS: {name: string; bytes: number[]}[] = [
  {name: 'gzip', bytes: [0x1f, 0x8b]},
  {name: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd]},
  {name: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]},
  {name: 'bzip2', bytes: [0x42, 0x5a, 0x68]},
  {name: 'lz4', bytes: [0x04, 0x22, 0x4d, 0x18]},
  {name: 'compress (.Z)', bytes: [0x1f, 0x9d]},
]

/** The compression of a stream that starts with `head` (at least 6 bytes unless the stream is shorter). */
export function detectCompression(head: Uint8Array): Compression {
  for (const m of MAGICS) {
    if (head.length >= m.bytes.length && m.bytes.every((b, i) => head[i] === b)) {
      if (m.name === 'gzip' || m.name === 'zstd') return m.name
      throw new VeloError('ERR_VELO_USAGE', `the archive is ${m.name}-compressed; velo reads plain, gzip and zstd tar archives`, {
        hint: `decompress it first, e.g. ${m.name === 'xz' ? 'xz -dc' : m.name === 'bzip2' ? 'bzip2 -dc' : 'lz4 -dc'} FILE | velo import tar - --ref NAME`,
      })
    }
  }
  return 'none'
}

/** Compression implied by an output file name (.tar.gz, .tgz, .tar.zst, .tzst), else none. */
export function compressionForName(name: string): Compression {
  if (/\.(tgz|gz)$/i.test(name)) return 'gzip'
  if (/\.(tzst|zst|zstd)$/i.test(name)) return 'zstd'
  return 'none'
}

/**
 * Reads the first bytes of `src` to detect its compression and returns the decompressed stream.
 * Nothing is lost: the bytes read ahead are put back in front of the rest.
 */
export async function decompressedStream(src: AsyncIterable<Buffer>): Promise<{stream: Readable; compression: Compression}> {
  const it = src[Symbol.asyncIterator]()
  const head: Buffer[] = []
  let have = 0
  let ended = false
  while (have < 6) {
    const r = await it.next()
    if (r.done) {
      ended = true
      break
    }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value)
    head.push(b)
    have += b.length
  }
  const first = Buffer.concat(head)
  const compression = detectCompression(first)
  async function* rest(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first
    if (ended) return
    for (;;) {
      const r = await it.next()
      if (r.done) return
      yield r.value
    }
  }
  const raw = Readable.from(rest(), {objectMode: false, highWaterMark: 1 << 20})
  if (compression === 'none') return {stream: raw, compression}
  const dec: Transform = compression === 'gzip' ? createGunzip({chunkSize: 256 << 10}) : createZstdDecompressStream()
  raw.on('error', (err) => dec.destroy(err))
  return {stream: raw.pipe(dec), compression}
}

export function compressor(c: Exclude<Compression, 'none'>, level?: number): Transform {
  return c === 'gzip' ? createGzip({level: level ?? 6, chunkSize: 256 << 10}) : createZstdCompressStream(level ?? 3)
}
