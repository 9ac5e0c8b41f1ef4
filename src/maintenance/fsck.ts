/**
 * `velo fsck`: verifies every pack (trailer checksum, index checksum, every object's BLAKE3, chunk
 * lists by their checksum and by the hash of their concatenated chunks) and that every ref and
 * reflog entry leads to a complete tree. Every problem names the object, its pack and what refers
 * to it. With maxDurationMs, the least recently verified packs go first and progress is kept in
 * `<repo>/cache/fsck.json`, so repeated short runs cover the whole repository.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {decodeChunkList} from '../objects/chunkList.js'
import type {Oid} from '../objects/oid.js'
import {ObjectType} from '../pack/block.js'
import type {Repository} from '../repo/Repository.js'
import {TYPE_NAMES, type LoadedPack} from '../store/PackStore.js'
import {atomicWrite, mkdirp} from '../util/fsx.js'
import {ObjectGraph, describeVia, type Root} from './ObjectGraph.js'
import {listPackFiles, type PackFile} from './packFiles.js'
import {loadPromised} from './promised.js'
import {listRefsSafe, listReflogs, reflogRoots} from './roots.js'
import {FsckPool} from './FsckPool.js'
import type {StreamedFile} from './ChunkStreams.js'
import type {ChunkedFile, ChunkedVerdict, FsckTask, FsckTaskResult} from './fsckTasks.js'
import type {KeptObjects, PackVerification} from './verifyPack.js'

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
  /** Worker threads (0: all on the calling thread); by default one per core for repositories above 16 MiB. */
  threads?: number
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

export async function fsck(repo: Repository, o: FsckOptions = {}): Promise<FsckResult> {
  const started = Date.now()
  const problems: FsckProblem[] = []
  const warnings: string[] = []
  repo.packs.refresh()
  const files = listPackFiles(repo.packsDir)
  const byName = new Map(repo.packs.packs.map((p) => [p.name, p]))
  const byPath = new Map(repo.packs.packs.map((p) => [p.path, p.name]))
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

  // 2. Pack contents, least recently verified first, spread over worker threads: each pack is
  // read once, sequentially, each block decompressed once. The verified trees, snapshots, run
  // records and chunk lists come back, so the graph walk (4.) reads no pack again.
  const state = loadState(repo)
  const order = verifiable.slice().sort((a, b) => (state.verified[a.name] ?? 0) - (state.verified[b.name] ?? 0) || (a.name < b.name ? -1 : 1))
  const results = new Map<string, PackVerification>()
  const kept = new Map<LoadedPack, {slot: Int32Array; kept: KeptObjects}>()
  const verdicts: {verdict: ChunkedVerdict; pack: string}[] = []
  // Chunked files of verified packs, checked as a whole once their pack is verified.
  const chunked: {file: ChunkedFile; pack: string; bytes: number}[] = []
  const listPack = new Map<string, string>()
  const listChunks = new Map<string, string[]>()
  // Chunked files whose chunks all sit in one pack are checked while that pack is read (no second
  // read); the others, and those that could not be completed that way, by a chunked task.
  const streamFor = new Map<string, StreamedFile[]>()
  const streamed = new Map<string, ChunkedFile>()
  const inRun = new Set(order.map((f) => f.name))
  for (const f of order) {
    const idx = byName.get(f.name)!.index
    for (let k = 0; k < idx.count; k++) {
      if (idx.typeAt(k) !== ObjectType.chunkList) continue
      const id = idx.oidAt(k)
      let file: ChunkedFile | undefined
      try {
        file = placeChunks(repo, id, repo.packs.read(id, ObjectType.chunkList).data)
      } catch {
        continue // damaged: the pack check reports it
      }
      if (!file || file.chunks.length === 0 || streamed.has(id)) continue
      // Checked with the pack holding most of its bytes; chunks elsewhere are read when their turn comes.
      const bytesIn = new Map<string, number>()
      for (const c of file.chunks) bytesIn.set(c.packPath, (bytesIn.get(c.packPath) ?? 0) + c.size)
      const home = [...bytesIn].sort((x, y) => y[1] - x[1])[0][0]
      const name = byPath.get(home)
      if (!name || !inRun.has(name)) continue
      streamed.set(id, file)
      listPack.set(id, f.name)
      listChunks.set(id, file.chunks.map((c) => c.id))
      let list = streamFor.get(name)
      if (!list) streamFor.set(name, (list = []))
      list.push({id, chunks: file.chunks.map((c) => ({id: c.id, size: c.size, place: c.packPath === home ? undefined : c}))})
    }
  }
  const pool = new FsckPool(FsckPool.size(o.threads, order.reduce((n, f) => n + f.packBytes, 0)))
  // Without a time limit the largest packs go first (the workers then finish close together).
  const dispatch = o.maxDurationMs === undefined ? order.slice().sort((a, b) => b.packBytes - a.packBytes) : order
  let dispatched = 0
  let stopped = false
  const nextTask = (): FsckTask | undefined => {
    if (!stopped && dispatched < dispatch.length) {
      if (o.maxDurationMs !== undefined && dispatched > 0 && Date.now() - started >= o.maxDurationMs) stopped = true
      else {
        const f = dispatch[dispatched++]
        o.onProgress?.({phase: 'packs', done: results.size, total: order.length})
        return {kind: 'pack', file: f, idx: byName.get(f.name)!.index.buf, chunked: streamFor.get(f.name)}
      }
    }
    const c = chunked.shift()
    return c ? {kind: 'chunked', files: [c.file]} : undefined
  }
  const onResult = (r: FsckTaskResult): void => {
    if (r.kind === 'chunked') {
      for (const v of r.verdicts) verdicts.push({verdict: v, pack: listPack.get(v.id)!})
      return
    }
    const v = r.pack
    results.set(v.name, v)
    o.onProgress?.({phase: 'packs', done: results.size, total: order.length})
    const pack = byName.get(v.name)!
    const slot = new Int32Array(pack.index.count)
    for (let k = 0; k < v.kept.positions.length; k++) slot[v.kept.positions[k]] = k + 1
    kept.set(pack, {slot, kept: v.kept})
    for (let k = 0; k < v.kept.positions.length; k++) {
      const pos = v.kept.positions[k]
      if (pack.index.typeAt(pos) !== ObjectType.chunkList || streamed.has(pack.index.oidAt(pos))) continue
      const file = placeChunks(repo, pack.index.oidAt(pos), keptBytes(v.kept, k))
      if (!file) continue // a chunk is missing: the walk reports it with what refers to it
      listPack.set(file.id, v.name)
      listChunks.set(file.id, file.chunks.map((c) => c.id))
      chunked.push({file, pack: v.name, bytes: file.chunks.reduce((n, c) => n + c.size, 0)})
    }
    for (const sv of v.streamed) {
      if (sv.ok === undefined) {
        const file = streamed.get(sv.id)!
        chunked.push({file, pack: listPack.get(sv.id)!, bytes: file.chunks.reduce((n, c) => n + c.size, 0)})
      } else verdicts.push({verdict: {id: sv.id, bad: sv.bad}, pack: listPack.get(sv.id)!})
    }
    chunked.sort((x, y) => y.bytes - x.bytes) // the largest first: they bound the wall time
  }
  try {
    await pool.run(nextTask, onResult)
  } finally {
    await pool.close()
  }
  const verifiedPacks = new Set<string>()
  for (const f of order) {
    const v = results.get(f.name)
    if (!v) continue
    const pack = byName.get(f.name)!
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
  res.packs.remaining = order.length - res.packs.verified
  res.complete = res.packs.remaining === 0
  saveState(repo, state, new Set(files.map((f) => f.name)))

  // 3. Chunked files: the chunks put together must hash to the file's id. A damaged chunk is
  // reported by its own pack's check (the list itself is not at fault).
  o.onProgress?.({phase: 'chunks', done: verdicts.length, total: verdicts.length})
  for (const {verdict: v, pack} of verdicts) {
    if (damagedById.has(v.id as Oid) || !verifiedPacks.has(pack)) continue
    if (listChunks.get(v.id)!.some((c) => damagedById.has(c as Oid))) continue
    if (v.unreadable) {
      if (damagedById.has(v.unreadable.id as Oid)) continue
      const loc = repo.packs.find(v.unreadable.id as Oid)
      const p: FsckProblem = {kind: 'object-damaged', id: v.unreadable.id as Oid, type: 'blob', pack: loc?.pack.name, message: `blob ${v.unreadable.id}${loc ? ` in pack ${loc.pack.name}` : ''}: ${v.unreadable.message}`}
      problems.push(p)
      damagedById.set(p.id!, p)
    } else if (v.bad) {
      const p: FsckProblem = {kind: 'object-damaged', id: v.id as Oid, type: 'chunk list', pack, message: `chunk list ${v.id} in pack ${pack}: ${v.bad}`}
      problems.push(p)
      damagedById.set(p.id!, p)
    }
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
  // Objects verified above are walked from their kept bytes; the rest are read (and verified) from the store.
  const graph = new ObjectGraph(repo.packs, (pack, pos) => {
    const t = kept.get(pack)
    const k = t ? t.slot[pos] - 1 : -1
    return k >= 0 ? keptBytes(t!.kept, k) : undefined
  })
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
    // Only needed to name what leads to objects the pack checks found damaged (it costs a hex id per object).
    onVisit: damagedById.size === 0 ? undefined : (id, _type, via) => {
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

function keptBytes(k: KeptObjects, i: number): Buffer {
  return Buffer.from(k.bytes.buffer, k.bytes.byteOffset + k.starts[i], k.lengths[i])
}

/** Where each chunk of a chunked file is, or undefined when one is in no pack. */
function placeChunks(repo: Repository, id: Oid, list: Buffer): ChunkedFile | undefined {
  const chunks = decodeChunkList(list, `chunk list ${id}`).chunks
  const out: ChunkedFile = {id, chunks: []}
  for (const c of chunks) {
    const loc = repo.packs.locate(Buffer.from(c.id, 'hex'))
    if (!loc) return undefined
    const r = loc.record
    out.chunks.push({id: c.id, size: c.size, packPath: loc.pack.path, blockOffset: r.blockOffset, blockLength: r.blockLength, offset: r.offset, length: r.length})
  }
  return out
}
