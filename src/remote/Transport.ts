/**
 * A Transport moves whole objects (files) to and from dumb storage: a directory or an
 * S3-compatible bucket. Keys are relative to the remote's root ("packs/d-<hex>.pack", "refs/app").
 * Implementations: file/FileTransport.ts, s3/S3Transport.ts; decorators: withRetry.ts.
 *
 * Errors: every method throws VeloErrors. RemoteError (ERR_VELO_REMOTE) marks transient failures
 * (network, timeouts, 5xx, throttling) with `transient: true`, which withRetry retries. A failed
 * precondition of a conditional put is ERR_VELO_REF_CONFLICT with data.precondition = true.
 */
import {VeloError, type VeloErrorOptions} from '../util/errors.js'

export interface TransportCapabilities {
  /** put() honours ifMatch / ifNoneMatch atomically (compare-and-swap of one object). */
  conditionalWrite: boolean
  /** get() can read a byte range without transferring the whole object. */
  rangeRead: boolean
  /** Requests worth running in parallel. */
  connections: number
}

export interface ObjectInfo {
  key: string
  size: number
  /** Opaque version tag (S3 ETag, a content hash for files); absent when unknown. */
  etag?: string
}

export interface GetResult {
  data: Buffer
  etag?: string
}

export interface ByteRange {
  offset: number
  length: number
}

/** A body that can be sent more than once (retries, multipart parts): bytes, or a file on disk. */
export type PutBody = Uint8Array | {file: string; size: number}

export interface PutOptions {
  /** '*': create only; fail with a precondition error when the key exists. */
  ifNoneMatch?: '*'
  /** Replace only while the object's etag is this; fail with a precondition error otherwise. */
  ifMatch?: string
  signal?: AbortSignal
}

export interface RequestOptions {
  signal?: AbortSignal
}

export interface Transport {
  readonly capabilities: TransportCapabilities
  /** Where it points, for messages (never contains credentials), e.g. s3://bucket/prefix. */
  readonly location: string
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string, o?: RequestOptions): Promise<ObjectInfo[]>
  /** The object or a byte range of it; undefined when the key does not exist. */
  get(key: string, o?: RequestOptions & {range?: ByteRange}): Promise<GetResult | undefined>
  put(key: string, body: PutBody, o?: PutOptions): Promise<{etag?: string}>
  /** Removes the key; a missing key is not an error. */
  delete(key: string, o?: RequestOptions): Promise<void>
  head(key: string, o?: RequestOptions): Promise<ObjectInfo | undefined>
}

/** A remote failure; `transient` ones may succeed when tried again. */
export class RemoteError extends VeloError {
  readonly transient: boolean
  readonly status?: number

  constructor(message: string, o: VeloErrorOptions & {transient?: boolean; status?: number} = {}) {
    super('ERR_VELO_REMOTE', message, o)
    this.transient = o.transient ?? false
    this.status = o.status
  }
}

export function isTransient(err: unknown): boolean {
  return err instanceof RemoteError && err.transient
}

export function preconditionFailed(location: string, key: string, detail: string): VeloError {
  return new VeloError('ERR_VELO_REF_CONFLICT', `${location}/${key} changed: ${detail}`, {
    hint: 'another client wrote it at the same time; run the command again',
    data: {key, precondition: true},
  })
}

export function isPreconditionFailed(err: unknown): boolean {
  return err instanceof VeloError && err.code === 'ERR_VELO_REF_CONFLICT' && err.data?.precondition === true
}

export function bodySize(body: PutBody): number {
  return body instanceof Uint8Array ? body.length : body.size
}
