/**
 * Retry decorator (as restic's RetryBackend): transient failures are tried again with exponential
 * backoff and jitter. A conditional put whose earlier attempt may have landed (the connection broke
 * after the request was sent) and whose retry then fails its precondition is checked by reading the
 * object back: if it holds exactly our bytes, the write did happen and counts as success.
 */
import {readFile} from 'node:fs/promises'
import {
  RemoteError, isPreconditionFailed, isTransient, type ByteRange, type GetResult, type ObjectInfo, type PutBody,
  type PutOptions, type RequestOptions, type Transport,
} from './Transport.js'

export interface RetryOptions {
  /** Attempts after the first one. */
  retries?: number
  baseDelayMs?: number
  maxDelayMs?: number
  onRetry?: (e: {op: string; key: string; attempt: number; delayMs: number; error: Error}) => void
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(t)
      reject(signal.reason)
    }, {once: true})
  })

export class RetryTransport implements Transport {
  readonly retries: number
  private readonly base: number
  private readonly max: number

  constructor(readonly inner: Transport, private readonly o: RetryOptions = {}) {
    this.retries = o.retries ?? envInt('VELO_REMOTE_RETRIES') ?? 5
    this.base = o.baseDelayMs ?? 200
    this.max = o.maxDelayMs ?? 5000
  }

  get capabilities() {
    return this.inner.capabilities
  }

  get location(): string {
    return this.inner.location
  }

  private async run<T>(op: string, key: string, signal: AbortSignal | undefined, fn: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(attempt)
      } catch (err) {
        if (!isTransient(err) || attempt >= this.retries || signal?.aborted) {
          if (isTransient(err) && attempt > 0) {
            const e = err as RemoteError
            throw new RemoteError(`${e.message} (gave up after ${attempt + 1} attempts)`, {hint: e.hint, data: e.data, cause: e, status: e.status})
          }
          throw err
        }
        const delayMs = Math.round(Math.min(this.max, this.base * 2 ** attempt) * (0.5 + Math.random() / 2))
        this.o.onRetry?.({op, key, attempt: attempt + 1, delayMs, error: err as Error})
        await sleep(delayMs, signal)
      }
    }
  }

  list(prefix: string, o?: RequestOptions): Promise<ObjectInfo[]> {
    return this.run('list', prefix, o?.signal, () => this.inner.list(prefix, o))
  }

  get(key: string, o?: RequestOptions & {range?: ByteRange}): Promise<GetResult | undefined> {
    return this.run('get', key, o?.signal, () => this.inner.get(key, o))
  }

  head(key: string, o?: RequestOptions): Promise<ObjectInfo | undefined> {
    return this.run('head', key, o?.signal, () => this.inner.head(key, o))
  }

  delete(key: string, o?: RequestOptions): Promise<void> {
    return this.run('delete', key, o?.signal, () => this.inner.delete(key, o))
  }

  async put(key: string, body: PutBody, o: PutOptions = {}): Promise<{etag?: string}> {
    const conditional = o.ifMatch !== undefined || o.ifNoneMatch !== undefined
    let retried = false
    return this.run('put', key, o.signal, async (attempt) => {
      retried = retried || attempt > 0
      try {
        return await this.inner.put(key, body, o)
      } catch (err) {
        if (!(conditional && retried && isPreconditionFailed(err))) throw err
        // An earlier attempt may have written the object before its connection failed.
        const cur = await this.inner.get(key, {signal: o.signal})
        const mine = body instanceof Uint8Array ? body : await readFile(body.file)
        if (cur && Buffer.compare(cur.data, mine) === 0) return {etag: cur.etag}
        throw err
      }
    })
  }
}

export function withRetry(t: Transport, o?: RetryOptions): RetryTransport {
  return new RetryTransport(t, o)
}

function envInt(name: string): number | undefined {
  const v = process.env[name]
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined
}
