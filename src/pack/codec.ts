/**
 * The only import of the zstd implementation (adapter). Compression contexts are reused: one per
 * thread, created on first use.
 */
import {createRequire} from 'node:module'
import type {Transform} from 'node:stream'

const require = createRequire(import.meta.url)

interface Binding {
  CCtx: new () => {compress(dst: Uint8Array, src: Uint8Array, level: number): number}
  DCtx: new () => {decompress(dst: Uint8Array, src: Uint8Array): number}
  compressBound(n: number): number
}

let binding: Binding | undefined
let cctx: InstanceType<Binding['CCtx']> | undefined
let dctx: InstanceType<Binding['DCtx']> | undefined

function load(): Binding {
  binding ??= require('zstd-napi/binding') as Binding
  return binding
}

export function compressBound(n: number): number {
  return load().compressBound(n)
}

/** Compresses src into dst (which must hold compressBound(src.length) bytes); returns the length. */
export function zstdCompressInto(dst: Uint8Array, src: Uint8Array, level: number): number {
  cctx ??= new (load().CCtx)()
  return cctx.compress(dst, src, level)
}

/** Decompresses a whole zstd frame whose content length is `rawLen` into dst. */
export function zstdDecompressInto(dst: Uint8Array, src: Uint8Array): number {
  dctx ??= new (load().DCtx)()
  return dctx.decompress(dst, src)
}

/** A streaming zstd decompressor (any number of frames), e.g. for `velo import tar FILE.tar.zst`. */
export function createZstdDecompressStream(): Transform {
  const {DecompressStream} = require('zstd-napi') as {DecompressStream: new () => Transform}
  return new DecompressStream()
}

/** A streaming zstd compressor at `level`, e.g. for `velo export tar -o FILE.tar.zst`. */
export function createZstdCompressStream(level: number): Transform {
  const {CompressStream} = require('zstd-napi') as {CompressStream: new (p: {compressionLevel: number}) => Transform}
  return new CompressStream({compressionLevel: level})
}
