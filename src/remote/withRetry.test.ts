import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {FileTransport} from './file/FileTransport.js'
import {RemoteError, isPreconditionFailed, type PutBody, type PutOptions} from './Transport.js'
import {withRetry} from './withRetry.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

/** A real directory transport whose first `failures` puts fail transiently, after (lost reply) or before writing. */
class Failing extends FileTransport {
  puts = 0
  constructor(private failures: number, private readonly after: boolean) {
    const d = mkdtempSync(join(tmpdir(), 'velo-retry-'))
    dirs.push(d)
    super(d)
  }
  override async put(key: string, body: PutBody, o?: PutOptions): Promise<{etag?: string}> {
    this.puts++
    if (this.failures > 0 && !this.after) {
      this.failures--
      throw new RemoteError('injected', {transient: true})
    }
    const r = await super.put(key, body, o)
    if (this.failures > 0) {
      this.failures--
      throw new RemoteError('injected lost reply', {transient: true})
    }
    return r
  }
}

describe('withRetry', () => {
  it('retries transient failures with backoff, then succeeds', async () => {
    const inner = new Failing(3, false)
    const retries: number[] = []
    const t = withRetry(inner, {baseDelayMs: 1, onRetry: (e) => retries.push(e.attempt)})
    await t.put('a', Buffer.from('x'))
    expect(retries).toEqual([1, 2, 3])
    expect((await t.get('a'))!.data.toString()).toBe('x')
  })

  it('gives up after its retries with a remote error saying so', async () => {
    const t = withRetry(new Failing(10, false), {retries: 2, baseDelayMs: 1})
    await expect(t.put('a', Buffer.from('x'))).rejects.toThrow(/gave up after 3 attempts/)
  })

  it('counts a conditional write that landed before its reply was lost as done', async () => {
    const t = withRetry(new Failing(1, true), {baseDelayMs: 1})
    await t.put('refs/x', Buffer.from('mine\n'), {ifNoneMatch: '*'})
    expect((await t.get('refs/x'))!.data.toString()).toBe('mine\n')
    // but a real conflict stays a conflict
    const e = await t.put('refs/x', Buffer.from('other\n'), {ifNoneMatch: '*'}).catch((err: unknown) => err)
    expect(isPreconditionFailed(e)).toBe(true)
  })

  it('does not retry permanent errors', async () => {
    const inner = new Failing(0, false)
    const t = withRetry(inner, {baseDelayMs: 1})
    await t.put('k', Buffer.from('1'), {ifNoneMatch: '*'})
    await expect(t.put('k', Buffer.from('2'), {ifNoneMatch: '*'})).rejects.toThrow(/exists already/)
    expect(inner.puts).toBe(2)
  })
})
