/**
 * Revisions (full id, unique prefix, ambiguous prefix, ref name, REF~N), and the log and diff APIs
 * on a small history.
 */
import {rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {diff} from '../../src/api/diff.js'
import {log} from '../../src/api/log.js'
import {snapshot} from '../../src/api/snapshot.js'
import {hash} from '../../src/objects/hash.js'
import type {Oid} from '../../src/objects/oid.js'
import {Repository} from '../../src/repo/Repository.js'
import {VeloError} from '../../src/util/errors.js'
import {makeTree, useScratchDir} from '../helpers/trees.js'

function errorOf(fn: () => unknown): VeloError {
  try {
    fn()
  } catch (err) {
    if (err instanceof VeloError) return err
    throw err
  }
  throw new Error('no error')
}

/** Two contents whose BLAKE3 ids share their first 4 hex digits. */
function collidingContents(): [string, string, string] {
  const seen = new Map<string, string>()
  for (let i = 0; ; i++) {
    const c = `ambiguous ${i}\n`
    const p = hash(Buffer.from(c)).toString('hex').slice(0, 4)
    const other = seen.get(p)
    if (other) return [other, c, p]
    seen.set(p, c)
  }
}

describe('revisions, log and diff', () => {
  const scratch = useScratchDir('velo-revs-')
  const tree = join(scratch.path, 'tree')
  let repo: Repository
  const ids: Oid[] = []
  const [c1, c2, sharedPrefix] = collidingContents()

  beforeAll(async () => {
    makeTree(tree, {'a.txt': 'a1', 'b.txt': 'b', sub: {dir: {'c.txt': 'c'}}, 'amb-1': c1, 'amb-2': c2})
    repo = Repository.open(join(scratch.path, 'repo'), {create: true})
    ids.push((await snapshot(repo, {dir: tree, ref: 'h', message: 'first'})).id)
    writeFileSync(join(tree, 'a.txt'), 'a2') // M
    ids.push((await snapshot(repo, {dir: tree, ref: 'h', message: 'second'})).id)
    rmSync(join(tree, 'b.txt')) // D
    writeFileSync(join(tree, 'sub', 'new.txt'), 'n') // A
    ids.push((await snapshot(repo, {dir: tree, ref: 'h', message: 'third'})).id)
    rmSync(join(tree, 'a.txt'))
    symlinkSync('sub/c.txt', join(tree, 'a.txt')) // T
    ids.push((await snapshot(repo, {dir: tree, ref: 'h', message: 'fourth\nwith a body'})).id)
  })

  afterAll(() => {
    repo.close()
    scratch.cleanup()
  })

  it('resolves a full id, a unique prefix of 4+ digits in any case, and a ref name', () => {
    const [, , , last] = ids
    expect(repo.resolve(last)).toBe(last)
    expect(repo.resolve(last.toUpperCase())).toBe(last)
    for (const n of [4, 5, 12, 63]) {
      const unique = ids.every((x) => x === last || !x.startsWith(last.slice(0, n)))
      if (unique) expect(repo.resolve(last.slice(0, n))).toBe(last)
    }
    expect(repo.resolve('h')).toBe(last)
    expect(repo.resolveSnapshot('h')).toBe(last)
  })

  it('follows first parents with REF~N, ID~N and ~ alone', () => {
    expect(repo.resolve('h~0')).toBe(ids[3])
    expect(repo.resolve('h~')).toBe(ids[2])
    expect(repo.resolve('h~1')).toBe(ids[2])
    expect(repo.resolve('h~~')).toBe(ids[1])
    expect(repo.resolve('h~3')).toBe(ids[0])
    expect(repo.resolve(`${ids[3].slice(0, 10)}~2`)).toBe(ids[1])
    const e = errorOf(() => repo.resolve('h~4'))
    expect(e.code).toBe('ERR_VELO_NOT_FOUND')
    expect(e.message).toMatch(/no parent/)
  })

  it('an ambiguous prefix is an error listing every candidate', () => {
    const e = errorOf(() => repo.resolve(sharedPrefix))
    expect(e.code).toBe('ERR_VELO_AMBIGUOUS')
    for (const c of [c1, c2]) expect(e.message).toContain(hash(Buffer.from(c)).toString('hex'))
    expect(e.message).toMatch(/blob/)
    expect(e.hint).toBeTruthy()
    expect((e.data as {candidates: string[]}).candidates.length).toBeGreaterThanOrEqual(2)
  })

  it('rejects unknown ids, too-short prefixes and non-snapshots where a snapshot is needed', () => {
    expect(errorOf(() => repo.resolve('0'.repeat(64))).code).toBe('ERR_VELO_NOT_FOUND')
    expect(errorOf(() => repo.resolve('nosuchref')).code).toBe('ERR_VELO_NOT_FOUND')
    const short = errorOf(() => repo.resolve(ids[0].slice(0, 3)))
    expect(short.code).toBe('ERR_VELO_NOT_FOUND')
    expect(short.hint).toMatch(/4 hex digits/)
    const blob = hash(Buffer.from(c1)).toString('hex')
    const e = errorOf(() => repo.resolveSnapshot(blob.slice(0, 20)))
    expect(e.message).toMatch(/is a blob, not a snapshot/)
    expect(errorOf(() => repo.resolve('')).code).toBe('ERR_VELO_USAGE')
  })

  it('log lists the history newest first, with refs, messages and parents', () => {
    const l = log(repo, {rev: 'h'})
    expect(l.map((e) => e.id)).toEqual([...ids].reverse())
    expect(l[0].refs).toEqual(['h'])
    expect(l[0].message).toBe('fourth\nwith a body')
    expect(l[0].parents).toEqual([ids[2]])
    expect(l[3].parents).toEqual([])
    expect(log(repo, {rev: 'h~2'}).map((e) => e.id)).toEqual([ids[1], ids[0]])
    expect(log(repo, {rev: 'h', limit: 2}).length).toBe(2)
    expect(log(repo).map((e) => e.id)).toEqual([...ids].reverse())
  })

  it('diff between snapshots: A/M/D/T with paths, nothing for equal trees', async () => {
    const lines = async (a: string, b?: string): Promise<string[]> => (await diff(repo, a, b)).changes.map((c) => `${c.status}\t${c.path}`)
    expect(await lines('h~3', 'h~2')).toEqual(['M\ta.txt'])
    expect(await lines('h~2', 'h~1')).toEqual(['D\tb.txt', 'A\tsub/new.txt'])
    expect(await lines('h~1', 'h')).toEqual(['T\ta.txt'])
    expect(await lines('h')).toEqual(['T\ta.txt']) // one revision: against its parent
    expect(await lines('h~3', 'h')).toEqual(['T\ta.txt', 'D\tb.txt', 'A\tsub/new.txt'])
    expect(await lines('h', 'h')).toEqual([])
    expect(await lines('h~3')).toEqual(['A\ta.txt', 'A\tamb-1', 'A\tamb-2', 'A\tb.txt', 'A\tsub/c.txt'])
  })

  it('diff between a snapshot and a directory, without storing anything', async () => {
    const {readdirSync} = await import('node:fs')
    const packs = readdirSync(repo.packsDir).length
    expect((await diff(repo, 'h', tree)).changes).toEqual([])
    writeFileSync(join(tree, 'sub', 'c.txt'), 'changed')
    writeFileSync(join(tree, 'brand new.txt'), 'new')
    const r = await diff(repo, 'h', tree)
    expect(r.changes.map((c) => `${c.status}\t${c.path}`)).toEqual(['A\tbrand new.txt', 'M\tsub/c.txt'])
    expect(readdirSync(repo.packsDir).length).toBe(packs)
    rmSync(join(tree, 'brand new.txt'))
    writeFileSync(join(tree, 'sub', 'c.txt'), 'c')
    expect((await diff(repo, 'h', tree)).changes).toEqual([])
  })
})

describe('ref names that collide', () => {
  it('refuses a ref whose name is a prefix of, or below, an existing ref, with a clear error', async () => {
    const {Repository} = await import('../../src/repo/Repository.js')
    const {mkdtempSync, rmSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const dir = mkdtempSync(join(tmpdir(), 'velo-refs-'))
    try {
      const repo = Repository.open(join(dir, 'r'), {create: true})
      const oid = 'a'.repeat(64) as Oid
      repo.refs.update('bench', {to: oid, command: 'test'})
      expect(() => repo.refs.update('bench/corpus', {to: oid, command: 'test'})).toThrow(/conflicts with the existing ref bench/)
      repo.refs.update('app/deps', {to: oid, command: 'test'})
      expect(() => repo.refs.update('app', {to: oid, command: 'test'})).toThrow(/conflicts with existing refs below app\//)
      expect(repo.refs.read('bench')).toBe(oid)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
