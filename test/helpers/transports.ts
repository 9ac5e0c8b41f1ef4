/** Transport wrappers for tests: injected transient failures, gates that line up concurrent writes, counters. */
import {
  RemoteError, type ByteRange, type GetResult, type ObjectInfo, type PutBody, type PutOptions, type RequestOptions,
  type Transport,
} from '../../src/remote/Transport.js'

type Op = 'list' | 'get' | 'put' | 'delete' | 'head'

/** Passes everything to `inner`; subclasses override `before`/`after`. */
export class WrapTransport implements Transport {
  constructor(readonly inner: Transport) {}
  get capabilities() {
    return this.inner.capabilities
  }
  get location() {
    return this.inner.location
  }
  protected async before(_op: Op, _key: string): Promise<void> {}
  protected async after(_op: Op, _key: string): Promise<void> {}
  async list(prefix: string, o?: RequestOptions): Promise<ObjectInfo[]> {
    await this.before('list', prefix)
    const r = await this.inner.list(prefix, o)
    await this.after('list', prefix)
    return r
  }
  async get(key: string, o?: RequestOptions & {range?: ByteRange}): Promise<GetResult | undefined> {
    await this.before('get', key)
    const r = await this.inner.get(key, o)
    await this.after('get', key)
    return r
  }
  async put(key: string, body: PutBody, o?: PutOptions): Promise<{etag?: string}> {
    await this.before('put', key)
    const r = await this.inner.put(key, body, o)
    await this.after('put', key)
    return r
  }
  async delete(key: string, o?: RequestOptions): Promise<void> {
    await this.before('delete', key)
    await this.inner.delete(key, o)
    await this.after('delete', key)
  }
  async head(key: string, o?: RequestOptions): Promise<ObjectInfo | undefined> {
    await this.before('head', key)
    const r = await this.inner.head(key, o)
    await this.after('head', key)
    return r
  }
}

/**
 * Fails every `every`-th call with a transient error: before the request, or (lostReply) after it
 * was carried out, as when a connection breaks before the answer arrives.
 */
export class FlakyTransport extends WrapTransport {
  calls = 0
  failures = 0
  constructor(inner: Transport, private readonly o: {every: number; lostReply?: (op: Op, key: string) => boolean}) {
    super(inner)
  }
  private shouldFail(): boolean {
    this.calls++
    if (this.calls % this.o.every !== 0) return false
    this.failures++
    return true
  }
  protected override async before(op: Op, key: string): Promise<void> {
    if (this.o.lostReply?.(op, key)) return
    if (this.shouldFail()) throw new RemoteError(`injected failure before ${op} ${key}`, {transient: true, status: 503})
  }
  protected override async after(op: Op, key: string): Promise<void> {
    if (this.o.lostReply?.(op, key) && this.shouldFail()) throw new RemoteError(`injected lost reply after ${op} ${key}`, {transient: true})
  }
}

/** Holds puts of keys matching `match` until `parties` of them have arrived, then lets them all go. */
export class GateTransport extends WrapTransport {
  constructor(inner: Transport, private readonly gate: {match: RegExp; parties: number; arrived: number; release: (() => void)[]}) {
    super(inner)
  }
  static shared(match: RegExp, parties: number): {match: RegExp; parties: number; arrived: number; release: (() => void)[]} {
    return {match, parties, arrived: 0, release: []}
  }
  protected override async before(op: Op, key: string): Promise<void> {
    if (op !== 'put' || !this.gate.match.test(key)) return
    this.gate.arrived++
    if (this.gate.arrived >= this.gate.parties) {
      for (const r of this.gate.release.splice(0)) r()
      return
    }
    await new Promise<void>((resolve) => this.gate.release.push(resolve))
  }
}

/** Counts requests and bytes received by get(). */
export class CountingTransport extends WrapTransport {
  gets = 0
  bytes = 0
  override async get(key: string, o?: RequestOptions & {range?: ByteRange}): Promise<GetResult | undefined> {
    const r = await super.get(key, o)
    this.gets++
    this.bytes += r?.data.length ?? 0
    return r
  }
}
