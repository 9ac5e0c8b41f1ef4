/**
 * Every read verifies: a flipped byte anywhere in a pack makes reading the objects it touches fail
 * with ERR_VELO_CORRUPT naming the object and the pack, and never returns wrong bytes; restore of
 * a damaged snapshot fails the same way. A damaged index or a missing pack is reported as such.
 */
import {cpSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {snapshot} from '../../src/api/snapshot.js'
import {hash} from '../../src/objects/hash.js'
import type {Oid} from '../../src/objects/oid.js'
import {BLOCK_HEADER, CODEC_RAW, ObjectType, decodeBlock} from '../../src/pack/block.js'
import {PackIndex} from '../../src/pack/packIndex.js'
import {Repository} from '../../src/repo/Repository.js'
import {restoreTree} from '../../src/restore/restoreTree.js'
import {VeloError} from '../../src/util/errors.js'
import {RandomStream, flipByte, makeTree, useScratchDir} from '../helpers/trees.js'

interface Obj {
  oid: Oid
  type: number
  pack: string
  blockOffset: number
  blockLength: number
  offset: number
  length: number
}

function listObjects(packsDir: string): Obj[] {
  const out: Obj[] = []
  for (const f of readdirSync(packsDir).filter((n) => n.endsWith('.idx'))) {
    const idx = new PackIndex(readFileSync(join(packsDir, f)))
    for (let i = 0; i < idx.count; i++) out.push({oid: idx.oidAt(i), pack: f.slice(0, -4), ...idx.record(i)})
  }
  return out
}

/** Reads every object of a fresh repository: ok (verified right), or a VeloError; wrong bytes never. */
function readAll(repoPath: string, objects: Obj[]): Map<Oid, VeloError | 'ok'> {
  const repo = Repository.open(repoPath)
  const res = new Map<Oid, VeloError | 'ok'>()
  try {
    for (const o of objects) {
      try {
        const {data} = repo.packs.read(o.oid)
        if (o.type !== ObjectType.chunkList && hash(data).toString('hex') !== o.oid) throw new Error(`wrong bytes returned for ${o.oid}`)
        res.set(o.oid, 'ok')
      } catch (err) {
        if (!(err instanceof VeloError)) throw err
        res.set(o.oid, err)
      }
    }
  } finally {
    repo.close()
  }
  return res
}

describe('verified reads', () => {
  const scratch = useScratchDir('velo-verify-')
  const pristine = join(scratch.path, 'pristine')
  const work = join(scratch.path, 'work')
  const tree = join(scratch.path, 'tree')
  let objects: Obj[]
  let snapTree: Oid

  beforeAll(async () => {
    const rs = new RandomStream('verify')
    makeTree(tree, {
      'a.txt': 'compressible text\n'.repeat(50),
      'b.txt': 'more compressible text\n'.repeat(70),
      'random.bin': rs.next(40_000), // small and incompressible
      'chunked.bin': rs.next(3 << 20), // chunked: a chunk list and chunks in raw blocks
      sub: {dir: {'c.txt': 'c'.repeat(5000), empty: ''}},
    })
    const repo = Repository.open(pristine, {create: true})
    snapTree = (await snapshot(repo, {dir: tree, ref: 'v'})).tree
    repo.close()
    objects = listObjects(join(pristine, 'packs'))
  })

  afterAll(() => scratch.cleanup())

  function freshCopy(): string {
    rmSync(work, {recursive: true, force: true})
    cpSync(pristine, work, {recursive: true})
    return work
  }

  it('reads every object of an undamaged repository', () => {
    const r = readAll(pristine, objects)
    expect([...r.values()].every((v) => v === 'ok')).toBe(true)
    expect(new Set(objects.map((o) => o.type))).toEqual(new Set([ObjectType.blob, ObjectType.tree, ObjectType.snapshot, ObjectType.chunkList]))
  })

  it('a flipped byte in any block fails the objects it touches, naming object and pack; never wrong bytes', () => {
    const blocks = new Map<string, Obj[]>()
    for (const o of objects) {
      const k = `${o.pack}:${o.blockOffset}`
      blocks.set(k, [...(blocks.get(k) ?? []), o])
    }
    let trials = 0
    for (const [, inBlock] of blocks) {
      const {pack, blockOffset, blockLength} = inBlock[0]
      const packFile = join(pristine, 'packs', `${pack}.pack`)
      const raw = readFileSync(packFile)[blockOffset] === CODEC_RAW
      // the header, the payload's first and last bytes, and a byte inside each object
      const positions = new Set([0, 4, 8, BLOCK_HEADER, blockLength - 1])
      if (raw) for (const o of inBlock) if (o.length > 0) positions.add(BLOCK_HEADER + o.offset + (o.length >> 1))
      for (const rel of positions) {
        const repoPath = freshCopy()
        flipByte(join(repoPath, 'packs', `${pack}.pack`), blockOffset + rel, 0x10)
        const results = readAll(repoPath, objects)
        trials++
        for (const o of objects) {
          const r = results.get(o.oid)!
          const touched = o.pack === pack && o.blockOffset === blockOffset && (!raw || rel < BLOCK_HEADER || (rel >= BLOCK_HEADER + o.offset && rel < BLOCK_HEADER + o.offset + o.length))
          if (r === 'ok') {
            expect(touched, `object ${o.oid} read fine although byte ${rel} of its block was flipped`).toBe(false)
            continue
          }
          expect(r.code).toBe('ERR_VELO_CORRUPT')
          expect(r.message).toContain(o.oid)
          expect(r.message).toContain(pack)
          expect(r.hint).toBeTruthy()
        }
        // the object under the flipped byte really failed
        for (const o of inBlock) {
          if (raw && rel >= BLOCK_HEADER && !(rel >= BLOCK_HEADER + o.offset && rel < BLOCK_HEADER + o.offset + o.length)) continue
          if (o.length === 0 && raw && rel >= BLOCK_HEADER) continue
          expect(results.get(o.oid), `flip at ${rel} in block ${blockOffset} of ${pack}`).not.toBe('ok')
        }
      }
    }
    expect(trials).toBeGreaterThan(10)
  })

  it('restore of a damaged snapshot fails with ERR_VELO_CORRUPT (a chunk, a small file, compressed data)', async () => {
    const chunk = objects.find((o) => o.type === ObjectType.blob && o.length > 100_000)!
    const small = objects.find((o) => o.type === ObjectType.blob && o.length === 40_000)!
    const codecOf = (o: Obj): number => readFileSync(join(pristine, 'packs', `${o.pack}.pack`))[o.blockOffset]
    const text = objects.find((o) => o.type === ObjectType.blob && o.length > 0 && codecOf(o) !== CODEC_RAW)!
    expect(text, 'a blob in a compressed block').toBeDefined()
    // positions in the compressed block where zstd fails in each of its ways
    const block = readFileSync(join(pristine, 'packs', `${text.pack}.pack`)).subarray(text.blockOffset, text.blockOffset + text.blockLength)
    const zstdFailures = new Map<string, number>()
    for (let pos = BLOCK_HEADER; pos < block.length; pos++) {
      const b = Buffer.from(block)
      b[pos] ^= 0x04
      try {
        decodeBlock(b)
      } catch (err) {
        const kind = (err as Error).message.replace(/^zstd: /, '')
        if (!zstdFailures.has(kind)) zstdFailures.set(kind, pos - BLOCK_HEADER)
      }
    }
    expect([...zstdFailures.keys()].join(', ')).toMatch(/Data corruption detected/)
    const cases: [Obj, (codec: number) => number][] = [
      [chunk, (codec) => (codec === CODEC_RAW ? chunk.offset + 7 : 3)],
      [small, (codec) => (codec === CODEC_RAW ? small.offset + 7 : 3)],
      ...[...zstdFailures.values()].map((at): [Obj, () => number] => [text, () => at]),
    ]
    for (const [n, [o, at]] of cases.entries()) {
      const repoPath = freshCopy()
      const packFile = join(repoPath, 'packs', `${o.pack}.pack`)
      const codec = readFileSync(packFile)[o.blockOffset]
      flipByte(packFile, o.blockOffset + BLOCK_HEADER + at(codec), 0x04)
      const repo = Repository.open(repoPath)
      try {
        const out = join(scratch.path, `out-${n}`)
        let err: unknown
        try {
          await restoreTree(repo, snapTree, out)
        } catch (e) {
          err = e
        }
        expect(err).toBeInstanceOf(VeloError)
        expect((err as VeloError).code).toBe('ERR_VELO_CORRUPT')
        expect((err as VeloError).message).toContain(o.pack)
      } finally {
        repo.close()
      }
    }
  })

  it('a damaged index: reads of its objects say the index is damaged', () => {
    const data = objects.find((o) => o.type === ObjectType.blob)!
    const repoPath = freshCopy()
    flipByte(join(repoPath, 'packs', `${data.pack}.idx`), 2000 % readFileSync(join(repoPath, 'packs', `${data.pack}.idx`)).length)
    const r = readAll(repoPath, objects.filter((o) => o.pack === data.pack)).get(data.oid)
    expect(r).not.toBe('ok')
    expect((r as VeloError).code).toBe('ERR_VELO_CORRUPT')
    expect((r as VeloError).message).toContain(data.pack)
    expect((r as VeloError).message).toMatch(/index/)
  })

  it('a missing pack whose index is still there is reported as missing', () => {
    const data = objects.find((o) => o.type === ObjectType.blob)!
    const repoPath = freshCopy()
    unlinkSync(join(repoPath, 'packs', `${data.pack}.pack`))
    const r = readAll(repoPath, [data]).get(data.oid) as VeloError
    expect(r.code).toBe('ERR_VELO_CORRUPT')
    expect(r.message).toContain(data.pack)
    expect(r.message).toMatch(/missing/)
  })

  it('a truncated pack fails the objects beyond the cut', () => {
    const last = objects.filter((o) => o.type === ObjectType.blob).sort((a, b) => b.blockOffset - a.blockOffset)[0]
    const repoPath = freshCopy()
    const packFile = join(repoPath, 'packs', `${last.pack}.pack`)
    const buf = readFileSync(packFile)
    rmSync(packFile)
    writeFileSync(packFile, buf.subarray(0, last.blockOffset + 20))
    const r = readAll(repoPath, [last]).get(last.oid) as VeloError
    expect(r.code).toBe('ERR_VELO_CORRUPT')
    expect(r.message).toContain(last.oid)
  })
})
