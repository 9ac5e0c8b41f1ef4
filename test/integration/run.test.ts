/**
 * velo run / replay / verify through the API, with real FUSE mounts served by this process (and
 * the --materialize path): what a run records, chains on a ref, the explicit environment,
 * replays that match and ones that do not (naming what differs), commands that are not found,
 * inputs whose objects are missing (naming the remote), interrupts, signatures and tampering.
 */
import {readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {generateSigningKey, loadSigningKey} from '../../src/audit/signingKey.js'
import {pull} from '../../src/api/pull.js'
import {push} from '../../src/api/push.js'
import {replay} from '../../src/api/replay.js'
import {run, type RunOptions, type RunResult} from '../../src/api/run.js'
import {runLog} from '../../src/api/runLog.js'
import {snapshot} from '../../src/api/snapshot.js'
import {verify} from '../../src/api/verify.js'
import {hash} from '../../src/objects/hash.js'
import type {Oid} from '../../src/objects/oid.js'
import {REDACTED, decodeRunRecord, encodeRunRecord} from '../../src/objects/runRecord.js'
import {ObjectType} from '../../src/pack/block.js'
import {addRemote} from '../../src/remote/RemoteConfig.js'
import {Repository} from '../../src/repo/Repository.js'
import {readRun, readTrace, resolveRun} from '../../src/run/readRun.js'
import {ObjectWriter} from '../../src/store/ObjectWriter.js'
import {VeloError} from '../../src/util/errors.js'
import {cleanupMounts, fuseTestsEnabled, mountsUnder} from '../helpers/mounts.js'
import {fileRemote} from '../helpers/remotes.js'
import {flipByte, makeTree, scratchDir} from '../helpers/trees.js'

/** Mounts and temp directories velo run leaves behind (there must be none). */
function leftovers(): string[] {
  const mounts = mountsUnder(tmpdir()).filter((m) => m.mountpoint.includes('/velo-run-')).map((m) => m.mountpoint)
  return mounts
}

function blobText(repo: Repository, id: Oid): string {
  return repo.packs.readContent(id).toString('utf8')
}

async function errorOf(p: Promise<unknown>): Promise<VeloError> {
  try {
    await p
  } catch (err) {
    if (err instanceof VeloError) return err
    throw err
  }
  throw new Error('expected a VeloError')
}

describe.skipIf(!fuseTestsEnabled())('velo run, replay and verify (real FUSE)', () => {
  let scratch: {path: string; cleanup: () => void}
  let repo: Repository
  let ws: string
  const out: string[] = []
  const base = (o: Partial<RunOptions> & {argv: string[]}): RunOptions => ({in: ws, ref: 'agent', onStdout: (d) => void out.push(d.toString()), ...o})

  beforeAll(() => {
    scratch = scratchDir('velo-run-it-')
    ws = join(scratch.path, 'ws')
    makeTree(ws, {'notes.txt': 'draft\n', src: {dir: {'main.c': 'int main(){}\n', 'util.c': 'x\n'}}, 'build.sh': {exec: '#!/bin/sh\ncat src/main.c > out.o\necho built\n'}})
    repo = Repository.open(join(scratch.path, 'repo'), {create: true})
  })

  afterAll(() => {
    cleanupMounts(tmpdir() + '/velo-run-')
    repo?.close()
    scratch?.cleanup()
  })

  let first: RunResult
  it('records a run on a mount: input, output, argv, cwd, env, stdout, stderr, exit code, trace', async () => {
    first = await run(repo, base({argv: ['sh', '-c', 'cat main.c; echo warn >&2; echo new > gen.c; rm util.c; exit 3'], cwd: 'src', env: ['VELO_TEST_RUN_TOKEN=ghp_secret', 'STAGE=one']}))
    const r = first.record
    expect(first.exitCode).toBe(3)
    expect(r.exitCode).toBe(3)
    expect(r.signal).toBeNull()
    expect(r.interrupted).toBe(false)
    expect(r.mode).toBe('mount')
    expect(r.argv[0]).toBe('sh')
    expect(r.cwd).toBe('src')
    expect(r.previous).toBeNull()
    expect(r.env.STAGE).toBe('one')
    expect(r.env.VELO_TEST_RUN_TOKEN).toBe(REDACTED)
    expect(r.redacted).toEqual(['VELO_TEST_RUN_TOKEN'])
    expect(JSON.stringify(r)).not.toContain('ghp_secret')
    expect(blobText(repo, r.stdout.id)).toBe('int main(){}\n')
    expect(blobText(repo, r.stderr.id)).toBe('warn\n')
    expect(out.join('')).toContain('int main(){}')
    expect(r.trace && 'paths' in r.trace ? r.trace.paths : []).toEqual(['src/main.c', 'src/gen.c'])
    expect(first.changes).toEqual({added: 1, modified: 0, deleted: 1, typeChanged: 0})
    // The record is what the ref names, decodable and hashed; the input directory is untouched.
    expect(repo.refs.read('agent')).toBe(first.id)
    expect(decodeRunRecord(repo.packs.read(first.id, ObjectType.run).data)).toEqual(r)
    expect(readdirSync(join(ws, 'src')).sort()).toEqual(['main.c', 'util.c'])
    // The output snapshot's parent is the input; a run stands for its output where a snapshot is wanted.
    expect(repo.readSnapshot(r.output).parents).toEqual([r.input])
    expect(repo.resolveSnapshot('agent')).toBe(r.output)
    expect(leftovers()).toEqual([])
    expect(readdirSync(join(repo.root, 'leases'))).toEqual([])
    expect(readdirSync(join(repo.root, 'mounts')).filter((n) => n !== 'active')).toEqual([])
  })

  it('chains runs on a ref, each on the previous output; RUN~N walks the chain', async () => {
    const second = await run(repo, base({in: 'agent', argv: ['./build.sh']}))
    expect(second.record.previous).toBe(first.id)
    expect(second.record.input).toBe(first.record.output)
    expect(second.exitCode).toBe(0)
    expect(readTrace(repo, second.record)).toEqual(['build.sh', 'src/main.c', 'out.o'])
    expect(resolveRun(repo, 'agent~1')).toBe(first.id)
    expect(runLog(repo, {rev: 'agent'}).map((e) => e.id)).toEqual([second.id, first.id])
    expect(blobText(repo, second.record.stdout.id)).toBe('built\n')
  })

  it('materializes instead of mounting: same output tree, no trace', async () => {
    const m = await run(repo, base({in: 'agent~1', ref: 'mat', argv: ['./build.sh'], mode: 'materialize'}))
    expect(m.record.mode).toBe('materialize')
    expect(m.record.trace).toBeNull()
    const viaMount = readRun(repo, resolveRun(repo, 'agent'))
    expect(repo.readSnapshot(m.record.output).tree).toBe(repo.readSnapshot(viaMount.output).tree)
    expect(leftovers()).toEqual([])
  })

  it('replays a deterministic run as identical', async () => {
    const r = await replay(repo, 'agent')
    expect(r.matches).toBe(true)
    expect(r.counts).toEqual({identical: 1, different: 0, missing: 0, extra: 0})
    expect(r.paths).toEqual([{path: 'out.o', status: 'identical', recorded: 'A', replayed: 'A'}])
    expect(r.stdout.equal && r.stderr.equal && r.exit.equal).toBe(true)
    const f = await replay(repo, 'agent~1')
    expect(f.matches).toBe(true)
    expect(f.missingEnv).toEqual(['VELO_TEST_RUN_TOKEN'])
  })

  it('replays a non-deterministic run and names exactly what differs', async () => {
    const keep = join(scratch.path, 'kept')
    const nd = await run(repo, base({in: ws, ref: 'nd', argv: ['sh', '-c', 'echo same > stable.txt; od -An -N8 -tx8 /dev/urandom | tee rand.txt; [ -e notes.txt ] && rm notes.txt; exit 0']}))
    const r = await replay(repo, 'nd', {keep})
    expect(r.matches).toBe(false)
    expect(r.paths.filter((p) => p.status !== 'identical')).toEqual([{path: 'rand.txt', status: 'different', recorded: 'A', replayed: 'A'}])
    expect(r.paths.find((p) => p.path === 'notes.txt')?.status).toBe('identical')
    expect(r.stdout.equal).toBe(false)
    expect(r.stderr.equal).toBe(true)
    expect(r.exit.equal).toBe(true)
    expect(readFileSync(join(keep, 'stable.txt'), 'utf8')).toBe('same\n')
    expect(readFileSync(join(keep, 'rand.txt'), 'utf8')).toBe(blobText(repo, r.stdout.replayed.id))
    expect(blobText(repo, r.stdout.replayed.id)).not.toBe(blobText(repo, nd.record.stdout.id))
  })

  it('does not run or record a command that is not found (127) or not executable (126)', async () => {
    const before = repo.refs.read('agent')
    const e = await errorOf(run(repo, base({in: 'agent', argv: ['no-such-command-xyz']})))
    expect(e.code).toBe('ERR_VELO_COMMAND_NOT_FOUND')
    expect(e.exitCode).toBe(127)
    const n = await errorOf(run(repo, base({in: 'agent', argv: ['./notes.txt']})))
    expect(n.exitCode).toBe(126)
    const c = await errorOf(run(repo, base({in: 'agent', argv: ['true'], cwd: 'nope'})))
    expect(c.code).toBe('ERR_VELO_NOT_FOUND')
    expect(repo.refs.read('agent')).toBe(before)
    expect(leftovers()).toEqual([])
  })

  it('records an interrupted run once its output is complete', async () => {
    const ac = new AbortController()
    const r = run(repo, base({ref: 'intr', argv: ['sh', '-c', 'echo partial > p.txt; echo started; exec sleep 30'], signal: ac.signal, onStdout: () => ac.abort('SIGINT')}))
    const res = await r
    expect(res.record.interrupted).toBe(true)
    expect(res.record.signal).toBe('SIGINT')
    expect(res.exitCode).toBe(130)
    expect(res.changes.added).toBe(1)
    expect(leftovers()).toEqual([])
  })

  it('refuses a run whose input objects are missing and names the remote to pull', async () => {
    const remote = fileRemote()
    const other = Repository.open(join(scratch.path, 'other'), {create: true})
    try {
      addRemote(repo, 'origin', remote.spec.url)
      await snapshot(repo, {dir: ws, ref: 'base'})
      await push(repo, {remote: 'origin', refs: ['base']})
      addRemote(other, 'origin', remote.spec.url)
      await pull(other, {remote: 'origin', refs: ['base'], metadataOnly: true})
      const e = await errorOf(run(other, {in: 'base', argv: ['true']}))
      expect(e.code).toBe('ERR_VELO_NOT_FOUND')
      expect(e.message).toMatch(/is missing/)
      expect(e.hint).toBe('fetch it: velo pull origin base')
    } finally {
      other.close()
      await remote.cleanup()
    }
  })

  it('signs runs, verifies everything reachable, and names tampered records and objects', async () => {
    const key = generateSigningKey(repo)
    const signed = await run(repo, base({in: 'agent', ref: 'signed', argv: ['./build.sh'], sign: true}))
    expect(signed.record.signature?.key).toBe(key.publicKey)
    const ok = verify(repo)
    expect(ok.problems).toEqual([])
    expect(ok.ok).toBe(true)
    expect(ok.signatures.valid).toBe(1)
    expect(ok.signers[0]).toMatchObject({key: key.publicKey, trusted: true})

    // A forged record: the signed one with another command, signature kept.
    const forged = {...signed.record, argv: ['rm', '-rf', '/']}
    const bytes = encodeRunRecord(forged)
    const forgedId = hash(bytes).toString('hex') as Oid
    const w = new ObjectWriter(repo)
    w.putRaw(Buffer.from(forgedId, 'hex'), ObjectType.run, bytes)
    w.commit()
    repo.refs.update('forged', {to: forgedId, command: 'test'})
    const v1 = verify(repo, {rev: 'forged'})
    expect(v1.ok).toBe(false)
    expect(v1.problems[0]).toMatchObject({kind: 'bad-signature', id: forgedId, path: 'forged'})
    repo.refs.update('forged', {to: null, command: 'test'})

    // A flipped byte in the pack holding the signed run's stdout: verify names the blob and the path to it.
    const loc = repo.packs.find(signed.record.stdout.id)!
    flipByte(loc.pack.path, loc.record.blockOffset + loc.record.blockLength - 1)
    const fresh = Repository.open(repo.root)
    try {
      const v2 = verify(fresh, {rev: 'signed'})
      expect(v2.ok).toBe(false)
      const p = v2.problems.find((x) => x.id === signed.record.stdout.id)
      expect(p?.kind).toBe('damaged')
      expect(p?.path).toBe(`signed: run ${signed.id.slice(0, 12)} stdout`)
      expect(v2.problems[0].id).toBe(signed.record.stdout.id)
    } finally {
      fresh.close()
    }
  })

  it('signs snapshots; a snapshot changed after signing fails verification', async () => {
    const s = await snapshot(repo, {dir: ws, ref: 'signed-snap', sign: loadSigningKey(repo)})
    const signedSnap = repo.readSnapshot(s.id)
    expect(signedSnap.signature?.key).toBe(loadSigningKey(repo).publicKey)
    expect(verify(repo, {rev: 'signed-snap', requireSigned: true}).ok).toBe(true)
    const w = new ObjectWriter(repo)
    const forged = w.writeSnapshot({...signedSnap, message: 'not what was signed'})
    w.commit()
    const v = verify(repo, {rev: forged, requireSigned: true})
    expect(v.problems.map((p) => [p.kind, p.id])).toEqual([['bad-signature', forged]])
    const unsigned = await snapshot(repo, {dir: ws, noRef: true})
    expect(verify(repo, {rev: unsigned.id, requireSigned: true}).problems.map((p) => p.kind)).toEqual(['unsigned'])
  })

  it('verify without arguments walks every ref and reports a damaged run record', async () => {
    const r = await run(repo, base({in: 'agent', ref: 'victim', argv: ['true']}))
    const loc = repo.packs.find(r.id)!
    flipByte(loc.pack.path, loc.record.blockOffset + loc.record.blockLength - 1)
    const fresh = Repository.open(repo.root)
    try {
      const v = verify(fresh)
      const p = v.problems.find((x) => x.id === r.id)
      expect(p).toMatchObject({kind: 'damaged', path: 'ref victim'})
      expect(v.roots.map((x) => x.name)).toContain('ref victim')
    } finally {
      fresh.close()
    }
  })
})
