/** `velo remote`, `push`, `pull`, `clone` end to end: exit codes, NDJSON with --json, errors with hints. */
import {createServer, type AddressInfo} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {s3Enabled, testBucket, type TestBucket} from '../helpers/remotes.js'
import {makeTree} from '../helpers/trees.js'
import {lastLine, tmpDir, velo, veloOk} from '../helpers/velo.js'

function ndjson(stdout: string): {type: string; [k: string]: unknown}[] {
  return stdout.trim().split('\n').map((l) => JSON.parse(l))
}

function scenario(remoteUrl: () => string, env: () => Record<string, string>, full: boolean): void {
  it(full ? 'adds a remote, pushes, clones, pulls, refuses a non-fast-forward push' : 'adds a remote, pushes, clones', () => {
    const d = tmpDir()
    const e = {env: env()}
    const a = join(d, 'a')
    makeTree(join(d, 't1'), {'a.txt': 'one\n', 'sub/b.txt': 'two\n'})
    const id1 = lastLine(veloOk(['snapshot', join(d, 't1'), '--repo', a, '--ref', 'app'], e).stdout)
    veloOk(['remote', 'add', 'origin', remoteUrl(), '--repo', a], e)
    const list = JSON.parse(veloOk(['remote', 'list', '--json', '--repo', a], e).stdout)
    expect(list).toEqual([expect.objectContaining({name: 'origin', url: remoteUrl()})])

    const pushed = ndjson(veloOk(['push', 'origin', 'app', '--json', '--repo', a], e).stdout)
    expect(pushed.at(-1)).toMatchObject({type: 'summary', remote: 'origin', refs: [{ref: 'app', new: id1, status: 'created'}]})
    const human = veloOk(['push', 'origin', '--repo', a], e)
    expect(human.stdout).toMatch(/app: up to date/)

    const b = join(d, 'b')
    const cloned = ndjson(veloOk(['clone', remoteUrl(), b, '--json'], e).stdout)
    expect(cloned.at(-1)).toMatchObject({type: 'summary', path: b, remote: 'origin'})
    expect(veloOk(['cat', 'app:sub/b.txt', '--repo', b], e).stdout).toBe('two\n')
    expect(veloOk(['cat', 'origin/app:a.txt', '--repo', b], e).stdout).toBe('one\n')
    if (!full) return

    makeTree(join(d, 't2'), {'a.txt': 'three\n'})
    const id2 = lastLine(veloOk(['snapshot', join(d, 't2'), '--repo', a, '--ref', 'app'], e).stdout)
    veloOk(['push', 'origin', '--repo', a, '-q'], e)
    const pulled = ndjson(veloOk(['pull', 'origin', '--json', '--repo', b], e).stdout)
    expect(pulled.at(-1)).toMatchObject({type: 'summary', refs: [{ref: 'app', old: id1, new: id2, status: 'fast-forward'}]})

    // b snapshots on top of an older state: its push is not a fast-forward.
    veloOk(['ref', 'set', 'app', id1, '--repo', b], e)
    makeTree(join(d, 't3'), {'c.txt': 'four\n'})
    veloOk(['snapshot', join(d, 't3'), '--repo', b, '--ref', 'app'], e)
    const refused = velo(['push', 'origin', 'app', '--repo', b], e)
    expect(refused.code).toBe(12)
    expect(refused.stderr).toMatch(/^velo: error: remote ref origin\/app is at/m)
    expect(refused.stderr).toMatch(/^hint: .*--force/m)
    const refusedJson = velo(['push', 'origin', 'app', '--json', '--repo', b], e)
    expect(refusedJson.code).toBe(12)
    expect(ndjson(refusedJson.stdout).at(-1)).toMatchObject({type: 'error', error: {code: 'ERR_VELO_NOT_FAST_FORWARD'}})
    expect(ndjson(veloOk(['push', 'origin', 'app', '--force', '--json', '--repo', b], e).stdout).at(-1)).toMatchObject({refs: [{status: 'forced'}]})

    const removed = JSON.parse(veloOk(['remote', 'remove', 'origin', '--json', '--repo', b], e).stdout)
    expect(removed).toMatchObject({name: 'origin', trackingRefs: 1})
    const gone = velo(['push', 'origin', '--repo', b], e)
    expect(gone.code, gone.stderr).toBe(16)
  }, 300_000)
}

describe('velo remote, push, pull, clone: directory remote', () => {
  let remote = ''
  scenario(() => (remote ||= join(tmpDir(), 'remote')), () => ({}), true)
})

describe.skipIf(!s3Enabled)('velo remote, push, pull, clone: S3 (Ceph RGW)', () => {
  let bucket: TestBucket
  beforeAll(async () => {
    bucket = await testBucket('e2e')
  })
  afterAll(async () => {
    await bucket?.destroy()
  })
  scenario(() => `s3://${bucket.bucket}/e2e`, () => ({}), false)

  it('reports a wrong secret as an auth error (exit 14) without printing it', () => {
    const d = tmpDir()
    veloOk(['init', join(d, 'r')])
    veloOk(['remote', 'add', 'origin', `s3://${bucket.bucket}/auth`, '--repo', join(d, 'r')])
    const r = velo(['pull', 'origin', '--repo', join(d, 'r')], {env: {AWS_SECRET_ACCESS_KEY: 'wrong-secret-123'}})
    expect(r.code).toBe(14)
    expect(r.stderr).toMatch(/access denied .*SignatureDoesNotMatch/)
    expect(r.stderr).toMatch(/^hint: .*AWS_SECRET_ACCESS_KEY/m)
    expect(r.stderr + r.stdout).not.toContain('wrong-secret-123')
  })

  it('reports an unreachable endpoint (exit 14) after its retries', async () => {
    const d = tmpDir()
    // A port nobody listens on: bind one, then close it.
    const srv = createServer()
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
    const port = (srv.address() as AddressInfo).port
    await new Promise((resolve) => srv.close(resolve))
    veloOk(['init', join(d, 'r')])
    veloOk(['remote', 'add', 'dead', `s3://${bucket.bucket}/x`, '--endpoint', `http://127.0.0.1:${port}`, '--repo', join(d, 'r')])
    const r = velo(['pull', 'dead', '--json', '--repo', join(d, 'r')], {env: {VELO_REMOTE_RETRIES: '1'}})
    expect(r.code).toBe(14)
    expect(ndjson(r.stdout).at(-1)).toMatchObject({type: 'error', error: {code: 'ERR_VELO_REMOTE', message: expect.stringMatching(new RegExp(`cannot reach http://127.0.0.1:${port} .*ECONNREFUSED`))}})
  })
})
