/**
 * `velo fsck`: verifies every pack (trailer checksum, index checksum, every object's BLAKE3, chunk
 * lists by their checksum and by the hash of their concatenated chunks) and that every ref and
 * reflog entry leads to a complete tree. Every problem names the object, its pack and what refers
 * to it. With maxDurationMs, the least recently verified packs go first and progress is kept in
 * `<repo>/cache/fsck.json`, so repeated short runs cover the whole repository.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {decodeChunkList, type Chunk} from '../objects/chunkList.js'
import {createHasher} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import type {Repository} from '../repo/Repository.js'
import {TYPE_NAMES} from '../store/PackStore.js'
import {atomicWrite, mkdirp} from '../util/fsx.js'
import {ObjectGraph, describeVia, type Root} from './ObjectGraph.js'
import {listPackFiles, type PackFile} from './packFiles.js'
import {loadPromised} from './promised.js'
import {listRefsSafe, listReflogs, reflogRoots} from './roots.js'
import {ChunkStreams, verifyPack} from './verifyPack.js'

export type FsckProblemKind =
  | 'pack-missing'
  | 'pack-damaged'
  | 'index-damaged'
  | 'object-damaged'
  | 'object-missing'
  | 'ref-damaged'

export interface FsckProblem {
  kind: FsckProblemKind
  message: string
  id?: Oid
  type?: string
  pack?: string
  /** What leads to the object: ref or reflog entry, snapshot and path (the first few). */
  referencedBy?: string[]
}

export interface FsckOptions {
  maxDurationMs?: number
  onProgress?: (p: {phase: 'packs' | 'chunks' | 'refs'; done: number; total: number}) => void
}

export interface FsckResult {
  ok: boolean
  /** False when --max-duration stopped before every pack was verified. */
  complete: boolean
  packs: {total: number; verified: number; remaining: number}
  objects: {verified: number; bytes: number}
  refs: number
  reflogEntries: number
  reachableObjects: number
  problems: FsckProblem[]
  warnings: string[]
  durationMs: number
}

interface FsckState {
  version: 1
  /** Pack name -> time it was last verified (ms). */
  verified: Record<string, number>
}

const MAX_REFERRERS = 3

function statePath(repo: Repository): string {
  return join(repo.cacheDir, 'fsck.json')
}

function loadState(repo: Repository): FsckState {
  try {
    const s = JSON.parse(readFileSync(statePath(repo), 'utf8')) as FsckState
    if (s.version === 1 && typeof s.verified === 'object') return s
  } catch {
    /* none yet, or unreadable: start over */
  }
  return {version: 1, verified: {}}
}

function saveState(repo: Repository, s: FsckState, names: Set<string>): void {
  for (const k of Object.keys(s.verified)) if (!names.has(k)) delete s.verified[k]
  try {
    mkdirp(repo.cacheDir)
    atomicWrite(statePath(repo), JSON.stringify(s) + '\n', {sync: false})
  } catch {
    /* progress is an optimisation */
  }
}

export function fsck(repo: Repository, o: FsckOptions = {}): FsckResult {
  const started = Date.now()
  const problems: FsckProblem[] = []
  const warnings: string[] = []
  repo.packs.refresh()
  const files = listPackFiles(repo.packsDir)
  const byName = new Map(repo.packs.packs.map((p) => [p.name, p]))
  const res: FsckResult = {
    ok: false,
    complete: true,
    packs: {total: files.length, verified: 0, remaining: 0},
    objects: {verified: 0, bytes: 0},
    refs: 0,
    reflogEntries: 0,
    reachableObjects: 0,
    problems,
    warnings,
    durationMs: 0,
  }
  // Damaged objects found in packs, by id: referrers are added by the graph walk.
  const damagedById = new Map<Oid, FsckProblem>()

  // 1. The files: indexes that do not load, packs without an index, indexes without a pack.
  const verifiable: PackFile[] = []
  for (const f of files) {
    const why = repo.packs.damaged.get(f.name)
    if (f.hasIdx && why) {
      problems.push({kind: 'index-damaged', pack: f.name, message: `the index of pack ${f.name} is damaged (${why}): its objects cannot be found`})
      continue
    }
    if (!f.hasIdx) {
      warnings.push(`pack ${f.name} has no index (left by an interrupted command): its objects are invisible; gc removes it after the grace period, fsck --repair indexes it again`)
      continue
    }
    if (!byName.has(f.name)) continue // appeared after the store loaded
    verifiable.push(f)
  }

  // 2. Pack contents, least recently verified first. Chunked files are checked as a whole while
  // their chunks stream by (ChunkStreams), so that their bytes are read once.
  const state = loadState(repo)
  const order = verifiable.slice().sort((a, b) => (state.verified[a.name] ?? 0) - (state.verified[b.name] ?? 0) || (a.name < b.name ? -1 : 1))
  const lists: {id: Oid; chunks: Chunk[]}[] = []
  const listPack = new Map<Oid, string>()
  for (const f of order) {
    const idx = byName.get(f.name)!.index
    for (let k = 0; k < idx.count; k++) {
      if (idx.typeAt(k) !== ObjectType.chunkList) continue
      const id = idx.oidAt(k)
      try {
        lists.push({id, chunks: decodeChunkList(repo.packs.read(id, ObjectType.chunkList).data).chunks})
        listPack.set(id, f.name)
      } catch {
        /* damaged: the pack check reports it */
      }
    }
  }
  const streams = new ChunkStreams(lists)
  const verifiedPacks = new Set<string>()
  let i = 0
  for (; i < order.length; i++) {
    if (o.maxDurationMs !== undefined && i > 0 && Date.now() - started >= o.maxDurationMs) break
    const f = order[i]
    const pack = byName.get(f.name)!
    o.onProgress?.({phase: 'packs', done: i, total: order.length})
    const v = verifyPack(f, pack.index, (id, data) => streams.offer(id, data))
    verifiedPacks.add(f.name)
    res.objects.verified += v.objects - v.damaged.length
    res.objects.bytes += v.bytes
    if (!f.hasPack) {
      problems.push({kind: 'pack-missing', pack: f.name, message: `pack ${f.name} is missing (its index lists ${pack.index.count} objects)`})
    } else {
      for (const e of v.errors) problems.push({kind: 'pack-damaged', pack: f.name, message: `pack ${f.name}: ${e}`})
    }
    for (const d of v.damaged) {
      const p: FsckProblem = {kind: 'object-damaged', id: d.id, type: TYPE_NAMES[d.type], pack: f.name, message: `${TYPE_NAMES[d.type] ?? 'object'} ${d.id} in pack ${f.name}: ${d.message}`}
      if (f.hasPack) problems.push(p)
      damagedById.set(d.id, p)
    }
    if (v.errors.length === 0 && v.damaged.length === 0) state.verified[f.name] = Date.now()
    else delete state.verified[f.name]
    res.packs.verified++
  }
  res.packs.remaining = order.length - i
  res.complete = res.packs.remaining === 0
  saveState(repo, state, new Set(files.map((f) => f.name)))

  // 3. Chunked files whose pack was verified: the chunks put together must hash to the file's id.
  const toCheck = streams.lists.filter((l) => verifiedPacks.has(listPack.get(l.id)!) && !damagedById.has(l.id))
  toCheck.forEach((l, n) => {
    if (n % 64 === 0) o.onProgress?.({phase: 'chunks', done: n, total: toCheck.length})
    const pack = listPack.get(l.id)!
    if (l.bad) return addDamaged(l.id, pack, l.bad)
    if (l.next === l.chunks.length) {
      if (l.hasher.digest().toString('hex') !== l.id) addDamaged(l.id, pack, 'its chunks put together do not hash to its id')
      return
    }
    // Second pass: chunks that did not stream by (other packs, or too far out of order).
    const h = createHasher()
    for (const ch of l.chunks) {
      // A missing chunk is reported by the walk below (with what refers to it), a damaged one by
      // its own pack's check: either way the list itself is not at fault.
      if (damagedById.has(ch.id)) return
      const loc = repo.packs.find(ch.id)
      if (!loc) return
      let data: Buffer
      try {
        data = repo.packs.read(ch.id, ObjectType.blob).data
      } catch (err) {
        const p: FsckProblem = {kind: 'object-damaged', id: ch.id, type: 'blob', pack: loc.pack.name, message: `blob ${ch.id} in pack ${loc.pack.name}: ${(err as Error).message}`}
        problems.push(p)
        damagedById.set(ch.id, p)
        return
      }
      if (data.length !== ch.size) return addDamaged(l.id, pack, `chunk ${ch.id} has ${data.length} bytes, the list says ${ch.size}`)
      h.update(data)
    }
    if (h.digest().toString('hex') !== l.id) addDamaged(l.id, pack, 'its chunks put together do not hash to its id')
  })
  function addDamaged(id: Oid, pack: string, why: string): void {
    const p: FsckProblem = {kind: 'object-damaged', id, type: 'chunk list', pack, message: `chunk list ${id} in pack ${pack}: ${why}`}
    problems.push(p)
    damagedById.set(id, p)
  }

  // 4. Refs and reflogs must lead to complete trees.
  o.onProgress?.({phase: 'refs', done: 0, total: 1})
  const refs = listRefsSafe(repo)
  for (const d of refs.damaged) problems.push({kind: 'ref-damaged', message: `ref ${d.name}: ${d.message}`})
  res.refs = refs.refs.length
  const roots: Root[] = refs.refs.map((r) => ({kind: 'ref', name: r.name, id: r.oid}))
  const logs = listReflogs(repo)
  const logRoots = reflogRoots(logs)
  res.reflogEntries = logs.reduce((a, l) => a + l.entries.length, 0)
  roots.push(...logRoots)
  const missing = new Map<Oid, FsckProblem>()
  const refer = (p: FsckProblem, via: Parameters<typeof describeVia>[0]): void => {
    p.referencedBy ??= []
    const d = describeVia(via)
    if (p.referencedBy.length < MAX_REFERRERS && !p.referencedBy.includes(d)) p.referencedBy.push(d)
  }
  const graph = new ObjectGraph(repo.packs)
  const promised = loadPromised(repo)
  const notFetched = new Map<string, number>()
  graph.walk(roots, {
    onMissing(id, expect, via) {
      if (expect === 'file' || expect === 'chunk') {
        const remote = promised.remoteOf(Buffer.from(id, 'hex'))
        if (remote) {
          notFetched.set(remote, (notFetched.get(remote) ?? 0) + 1)
          return
        }
      }
      let p = missing.get(id) ?? damagedById.get(id)
      if (!p) {
        p = {kind: 'object-missing', id, message: `${expect === 'any' ? 'object' : expect} ${id} is missing`}
        missing.set(id, p)
        problems.push(p)
      }
      refer(p, via)
    },
    onDamaged(id, message, via) {
      let p = damagedById.get(id)
      if (!p) {
        const loc = repo.packs.find(id)
        p = {kind: 'object-damaged', id, pack: loc?.pack.name, message: `object ${id}${loc ? ` in pack ${loc.pack.name}` : ''}: ${message}`}
        damagedById.set(id, p)
        problems.push(p)
      }
      refer(p, via)
    },
    onVisit(id, _type, via) {
      const p = damagedById.get(id)
      if (p) refer(p, via)
    },
  })
  for (const [remote, n] of notFetched) warnings.push(`${n} file contents are not here yet: remote ${remote} has them (a metadata-only pull or lazy checkout fetches them on use)`)
  // Objects of a missing pack are reported when something refers to them.
  const listed = new Set(problems)
  for (const p of damagedById.values()) if (!listed.has(p) && p.referencedBy) problems.push(p)
  // Walks visit each object once: an object reached again along another path is not re-reported.
  res.reachableObjects = graph.visited
  res.ok = problems.length === 0
  res.durationMs = Date.now() - started
  return res
}
