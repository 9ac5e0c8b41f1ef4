/**
 * A remote in an S3-compatible bucket (AWS S3, Ceph RGW, MinIO), spoken over plain HTTP(S) with
 * SigV4 signatures. The only importer of the signer (aws4fetch, loaded on first request).
 *
 * - Conditional writes: `If-None-Match: *` creates, `If-Match: <etag>` replaces. Ceph RGW 16
 *   compares If-Match with the bare etag (a quoted one never matches), so the bare form is sent
 *   first; when that fails while a HEAD shows the expected etag, the quoted form is tried once.
 * - Objects above `multipartThreshold` go up as multipart uploads, parts in parallel.
 * - Every request has a timeout (VELO_REMOTE_TIMEOUT_MS, default 30 s, plus 1 s per MiB of body).
 * - Errors carry the HTTP status and S3 error code, never credentials; transient ones (network,
 *   timeouts, 5xx, throttling) are marked for withRetry.
 */
import {open, readFile} from 'node:fs/promises'
import {VeloError} from '../../util/errors.js'
import {
  RemoteError, bodySize, isTransient, preconditionFailed, type ByteRange, type GetResult, type ObjectInfo, type PutBody,
  type PutOptions, type RequestOptions, type Transport, type TransportCapabilities,
} from '../Transport.js'
import type {S3Settings} from './awsConfig.js'
import {completeMultipartBody, parseListObjectsV2, unquote, xmlText} from './s3Xml.js'

export interface S3TransportOptions {
  /** Bytes above which put() uses a multipart upload. */
  multipartThreshold?: number
  partSize?: number
  connections?: number
  timeoutMs?: number
}

interface Signer {
  sign(): Promise<{method: string; url: URL; headers: Headers; body?: BodyInit | null}>
}
type SignerClass = new (o: Record<string, unknown>) => Signer

let signerClass: Promise<SignerClass> | undefined
function loadSigner(): Promise<SignerClass> {
  signerClass ??= import('aws4fetch').then((m) => m.AwsV4Signer as unknown as SignerClass)
  return signerClass
}

interface SendOptions {
  key?: string
  query?: Record<string, string>
  headers?: Record<string, string>
  body?: Uint8Array | string
  signal?: AbortSignal
}

export class S3Transport implements Transport {
  readonly capabilities: TransportCapabilities
  readonly location: string
  private readonly multipartThreshold: number
  private readonly partSize: number
  private readonly timeoutMs: number

  constructor(readonly bucket: string, readonly prefix: string, readonly settings: S3Settings, o: S3TransportOptions = {}) {
    this.prefix = prefix.replace(/^\/+|\/+$/g, '')
    this.location = `s3://${bucket}${this.prefix ? `/${this.prefix}` : ''}`
    this.capabilities = {conditionalWrite: true, rangeRead: true, connections: o.connections ?? 8}
    this.multipartThreshold = o.multipartThreshold ?? envInt('VELO_S3_MULTIPART_THRESHOLD') ?? 64 << 20
    this.partSize = Math.max(5 << 20, o.partSize ?? envInt('VELO_S3_PART_SIZE') ?? 16 << 20)
    this.timeoutMs = o.timeoutMs ?? envInt('VELO_REMOTE_TIMEOUT_MS') ?? 30_000
  }

  private fullKey(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key
  }

  private url(key: string | undefined, query?: Record<string, string>): string {
    const ep = new URL(this.settings.endpoint)
    const path = key === undefined ? '' : key.split('/').map(encodeURIComponent).join('/')
    let u: string
    if (this.settings.pathStyle) u = `${ep.origin}${ep.pathname.replace(/\/$/, '')}/${this.bucket}${key === undefined ? '' : `/${path}`}`
    else u = `${ep.protocol}//${this.bucket}.${ep.host}${ep.pathname.replace(/\/$/, '')}/${path}`
    if (query) {
      const q = Object.entries(query).map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`))
      if (q.length) u += `?${q.join('&')}`
    }
    return u
  }

  private where(key?: string): string {
    return key === undefined ? `${this.location} (${this.settings.endpoint})` : `${this.location}/${key}`
  }

  private async send(method: string, o: SendOptions): Promise<Response> {
    const creds = this.settings.credentials
    if (!creds) {
      throw new RemoteError(`no S3 credentials for ${this.location}`, {
        hint: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials (AWS_PROFILE picks one)',
      })
    }
    const Signer = await loadSigner()
    const url = this.url(o.key === undefined ? undefined : this.fullKey(o.key), o.query)
    const signer = new Signer({
      url, method, headers: o.headers ?? {}, body: o.body,
      accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken,
      service: 's3', region: this.settings.region,
    })
    const req = await signer.sign()
    const size = o.body === undefined ? 0 : typeof o.body === 'string' ? o.body.length : o.body.length
    const timeout = AbortSignal.timeout(this.timeoutMs + Math.ceil(size / (1 << 20)) * 1000)
    const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout
    try {
      return await fetch(req.url, {method, headers: req.headers, body: o.body as BodyInit | undefined, signal})
    } catch (err) {
      throw this.networkError(err, o.key, o.signal)
    }
  }

  private networkError(err: unknown, key: string | undefined, callerSignal?: AbortSignal): VeloError {
    if (callerSignal?.aborted) {
      return new VeloError('ERR_VELO_INTERRUPTED', `request to ${this.where(key)} cancelled`, {cause: err})
    }
    const e = err as Error & {cause?: {code?: string; message?: string}}
    const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError'
    const detail = timedOut ? 'timed out' : (e.cause?.code ?? e.cause?.message ?? e.message)
    return new RemoteError(`cannot reach ${this.settings.endpoint} for ${this.where(key)}: ${detail}`, {
      transient: true,
      hint: 'check the endpoint (velo remote add --endpoint, VELO_S3_ENDPOINT) and the network',
      cause: err,
    })
  }

  /** Reads a response body, mapping a broken connection to a transient error. */
  private async body(res: Response, key: string | undefined): Promise<Buffer> {
    try {
      return Buffer.from(await res.arrayBuffer())
    } catch (err) {
      throw this.networkError(err, key)
    }
  }

  /** Turns a failed response into the error users see. */
  private async failure(res: Response, key: string | undefined, doing: string): Promise<VeloError> {
    const text = doing === 'checking' ? '' : (await this.body(res, key).catch(() => Buffer.alloc(0))).toString('utf8')
    const code = xmlText(text, 'Code') ?? ''
    const status = res.status
    const what = `${doing} ${this.where(key)}`
    const info = `HTTP ${status}${code ? ` ${code}` : ''}`
    if (status === 412) return preconditionFailed(this.location, key ?? '', 'its etag is not the expected one')
    if (status === 403 || status === 401) {
      const keyHint = code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch'
        ? `the access key or secret is wrong: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY${this.settings.credentialSource ? ` (from ${this.settings.credentialSource})` : ''}`
        : code === 'RequestTimeTooSkewed'
          ? 'the clock of this machine is off: fix the time'
          : `the credentials${this.settings.credentialSource ? ` (from ${this.settings.credentialSource})` : ''} are not allowed to do this on bucket ${this.bucket}`
      return new RemoteError(`access denied ${what}: ${info}`, {status, hint: keyHint, data: {status, code}})
    }
    if (status === 404 && code === 'NoSuchBucket') {
      return new RemoteError(`bucket ${this.bucket} does not exist at ${this.settings.endpoint}`, {
        status,
        hint: 'create the bucket first (e.g. aws s3 mb s3://BUCKET), or check the URL and --endpoint',
        data: {status, code},
      })
    }
    if (status === 301 || status === 307 || code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed') {
      return new RemoteError(`${what} failed: ${info} (wrong region or endpoint)`, {
        status,
        hint: 'set the bucket\'s region with AWS_REGION or velo remote add --region',
        data: {status, code},
      })
    }
    const transient = status >= 500 || status === 429 || code === 'SlowDown' || code === 'RequestTimeout'
    return new RemoteError(`${what} failed: ${info}`, {transient, status, data: {status, code}})
  }

  async list(prefix: string, o: RequestOptions = {}): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = []
    const strip = this.prefix ? this.prefix.length + 1 : 0
    let token: string | undefined
    do {
      const query: Record<string, string> = {'list-type': '2', prefix: this.fullKey(prefix)}
      if (token) query['continuation-token'] = token
      const res = await this.send('GET', {query, signal: o.signal})
      if (!res.ok) throw await this.failure(res, undefined, 'listing')
      const page = parseListObjectsV2((await this.body(res, undefined)).toString('utf8'))
      for (const it of page.items) out.push({key: it.key.slice(strip), size: it.size, etag: it.etag})
      token = page.next
    } while (token)
    return out
  }

  async get(key: string, o: RequestOptions & {range?: ByteRange} = {}): Promise<GetResult | undefined> {
    const headers: Record<string, string> = {}
    if (o.range) headers.range = `bytes=${o.range.offset}-${o.range.offset + o.range.length - 1}`
    const res = await this.send('GET', {key, headers, signal: o.signal})
    if (res.status === 404) {
      const text = (await this.body(res, key)).toString('utf8')
      if (xmlText(text, 'Code') === 'NoSuchBucket') {
        throw await this.failure(new Response(text, {status: 404}), key, 'reading')
      }
      return undefined
    }
    if (res.status === 416) {
      await this.body(res, key).catch(() => undefined)
      throw truncated(this.location, key)
    }
    if (!res.ok) throw await this.failure(res, key, 'reading')
    let data = await this.body(res, key)
    if (o.range) {
      if (res.status === 200) data = data.subarray(o.range.offset, o.range.offset + o.range.length)
      if (data.length !== o.range.length) throw truncated(this.location, key)
    }
    return {data, etag: unquote(res.headers.get('etag'))}
  }

  async head(key: string, o: RequestOptions = {}): Promise<ObjectInfo | undefined> {
    const res = await this.send('HEAD', {key, signal: o.signal})
    if (res.status === 404) return undefined
    if (!res.ok) throw await this.failure(res, key, 'checking')
    return {key, size: Number(res.headers.get('content-length') ?? 0), etag: unquote(res.headers.get('etag'))}
  }

  async delete(key: string, o: RequestOptions = {}): Promise<void> {
    const res = await this.send('DELETE', {key, signal: o.signal})
    await this.body(res, key).catch(() => undefined)
    if (!res.ok && res.status !== 404) throw await this.failure(res, key, 'deleting')
  }

  async put(key: string, body: PutBody, o: PutOptions = {}): Promise<{etag?: string}> {
    const size = bodySize(body)
    if (size > this.multipartThreshold && o.ifMatch === undefined && o.ifNoneMatch === undefined) {
      return this.putMultipart(key, body, size, o.signal)
    }
    const bytes = body instanceof Uint8Array ? body : await readFile(body.file)
    const headers: Record<string, string> = {}
    if (o.ifNoneMatch) headers['if-none-match'] = '*'
    if (o.ifMatch !== undefined) headers['if-match'] = o.ifMatch
    let res = await this.send('PUT', {key, body: bytes, headers, signal: o.signal})
    if (res.status === 412 && o.ifMatch !== undefined) {
      // RGW wants the bare etag, AWS documents the quoted one: try the other form only when the
      // object really has the expected etag.
      await this.body(res, key).catch(() => undefined)
      const cur = await this.head(key, o)
      if (cur?.etag !== o.ifMatch) throw preconditionFailed(this.location, key, 'its etag is not the expected one')
      res = await this.send('PUT', {key, body: bytes, headers: {...headers, 'if-match': `"${o.ifMatch}"`}, signal: o.signal})
    }
    if (!res.ok) throw await this.failure(res, key, 'writing')
    await this.body(res, key).catch(() => undefined)
    return {etag: unquote(res.headers.get('etag'))}
  }

  private async putMultipart(key: string, body: PutBody, size: number, signal?: AbortSignal): Promise<{etag?: string}> {
    const start = await this.send('POST', {key, query: {uploads: ''}, signal})
    if (!start.ok) throw await this.failure(start, key, 'starting an upload of')
    const uploadId = xmlText((await this.body(start, key)).toString('utf8'), 'UploadId')
    if (!uploadId) throw new RemoteError(`starting an upload of ${this.where(key)}: no UploadId in the answer`, {transient: true})
    const count = Math.ceil(size / this.partSize)
    const etags: string[] = new Array(count)
    const fh = body instanceof Uint8Array ? undefined : await open(body.file, 'r')
    try {
      const readPart = async (i: number): Promise<Uint8Array> => {
        const off = i * this.partSize
        const len = Math.min(this.partSize, size - off)
        if (body instanceof Uint8Array) return body.subarray(off, off + len)
        const buf = Buffer.allocUnsafe(len)
        let got = 0
        while (got < len) {
          const {bytesRead} = await fh!.read(buf, got, len - got, off + got)
          if (bytesRead === 0) throw new Error(`${body.file} shrank while uploading it`)
          got += bytesRead
        }
        return buf
      }
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < count) {
          const i = next++
          const bytes = await readPart(i)
          for (let attempt = 0; ; attempt++) {
            try {
              const res = await this.send('PUT', {key, query: {partNumber: String(i + 1), uploadId}, body: bytes, signal})
              if (!res.ok) throw await this.failure(res, key, `uploading part ${i + 1} of`)
              await this.body(res, key).catch(() => undefined)
              const etag = unquote(res.headers.get('etag'))
              if (!etag) throw new RemoteError(`uploading part ${i + 1} of ${this.where(key)}: no ETag in the answer`, {transient: true})
              etags[i] = etag
              break
            } catch (err) {
              if (!isTransient(err) || attempt >= 3) throw err
              await new Promise((r) => setTimeout(r, 200 * 2 ** attempt))
            }
          }
        }
      }
      await Promise.all(Array.from({length: Math.min(4, count)}, worker))
      const done = await this.send('POST', {
        key, query: {uploadId}, body: completeMultipartBody(etags.map((etag, i) => ({number: i + 1, etag}))),
        headers: {'content-type': 'application/xml'}, signal,
      })
      const text = (await this.body(done, key)).toString('utf8')
      if (!done.ok) throw await this.failure(new Response(text, {status: done.status}), key, 'completing the upload of')
      if (xmlText(text, 'Code')) {
        throw new RemoteError(`completing the upload of ${this.where(key)} failed: ${xmlText(text, 'Code')}`, {transient: true})
      }
      return {etag: unquote(xmlText(text, 'ETag'))}
    } catch (err) {
      const abort = await this.send('DELETE', {key, query: {uploadId}}).catch(() => undefined)
      if (abort) await this.body(abort, key).catch(() => undefined)
      throw err
    } finally {
      await fh?.close()
    }
  }

  /** Creates the bucket (tests, benchmarks); one that exists already and is ours is fine. */
  async createBucket(): Promise<void> {
    const res = await this.send('PUT', {})
    const text = (await this.body(res, undefined)).toString('utf8')
    if (res.ok || xmlText(text, 'Code') === 'BucketAlreadyOwnedByYou') return
    throw await this.failure(new Response(text, {status: res.status}), undefined, 'creating bucket')
  }

  /** Deletes the (empty) bucket (tests, benchmarks). */
  async deleteBucket(): Promise<void> {
    const res = await this.send('DELETE', {})
    const text = (await this.body(res, undefined)).toString('utf8')
    if (res.ok || res.status === 404) return
    throw await this.failure(new Response(text, {status: res.status}), undefined, 'deleting bucket')
  }
}

function truncated(location: string, key: string): VeloError {
  return new VeloError('ERR_VELO_CORRUPT', `${location}/${key} is shorter than its index says`, {
    hint: 'the remote object is truncated; push it again from a repository that has it',
    data: {key},
  })
}

function envInt(name: string): number | undefined {
  const v = process.env[name]
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined
}
