/**
 * Which objects a push must send: everything reachable from the pushed snapshots (their trees,
 * file contents and the snapshots of their history; for a run record, its chain of previous runs and
 * each record's input and output snapshots, stdout, stderr and trace) that the remote's indexes do
 * not list.
 * A snapshot or tree that the remote lists is skipped with everything below it: pushes upload
 * contents before trees, trees before the trees and snapshots that name them, and ancestors
 * before descendants, so what the remote lists is always complete below.
 * Chunked files are the exception that is checked chunk by chunk (cheap, and it keeps a push that
 * died between content indexes from leaving holes).
 * The walk is the CPU cost of a push, so it reads trees with a scanner that only takes the kinds
 * and ids out of the (verified) tree bytes, and looks ids up as bytes.
 */
import {decodeChunkList} from '../objects/chunkList.js'
import type {Oid} from '../objects/oid.js'
import {decodeRunRecord, type RunRecord} from '../objects/runRecord.js'
import {decodeSnapshot} from '../objects/snapshot.js'
import {TREE_MAGIC} from '../objects/tree.js'
import {ObjectType} from '../pack/block.js'
import type {Repository} from '../repo/Repository.js'
import type {LoadedPack, Location} from '../store/PackStore.js'
import {VeloError} from '../util/errors.js'
import type {RemoteIndex} from './RemoteIndex.js'

export interface PlannedObject {
  oid: Oid
  type: number
  /** The object's verified bytes. */
  data: Buffer
  /** Where it is stored locally. */
  pack: LoadedPack
}

export interface PushPlan {
  /** Blocks of local packs holding content objects to send: pack -> block offsets. */
  dataBlocks: Map<LoadedPack, Set<number>>
  /** Trees, snapshots and other metadata to send, children and ancestors first. */
  meta: PlannedObject[]
  dataObjects: number
}

export interface PlanOptions {
  /**
   * Called as soon as every object of a local pack is known to be wanted: the pack can be sent
   * as it is before the walk ends (the walk yields to the event loop every few milliseconds so
   * that uploads progress meanwhile).
   */
  onPackWanted?: (pack: LoadedPack) => void
}

const KIND_SYMLINK = 3
const KIND_DIR = 4

/** Calls fn(kind, id) for each entry of a tree encoding ("Tree" in docs/format.md); symlinks have no id. */
function scanTree(buf: Buffer, where: string, fn: (kind: number, id: Buffer) => void): void {
  let pos = 4
  const bad = (): never => {
    throw new VeloError('ERR_VELO_CORRUPT', `corrupt ${where}`, {hint: 'run velo fsck'})
  }
  const varint = (): number => {
    let n = 0
    let mul = 1
    for (let i = 0; i < 8; i++) {
      if (pos >= buf.length) bad()
      const b = buf[pos++]
      n += (b & 0x7f) * mul
      if ((b & 0x80) === 0) return n
      mul *= 128
    }
    return bad()
  }
  if (buf.length < 5 || buf.compare(TREE_MAGIC, 0, 4, 0, 4) !== 0) bad()
  const count = varint()
  for (let i = 0; i < count; i++) {
    if (pos >= buf.length) bad()
    const kind = buf[pos++]
    const nameLen = varint() // (pos += varint() would add to the pos read before the call)
    pos += nameLen
    if (kind === KIND_SYMLINK) {
      const targetLen = varint()
      pos += targetLen
      continue
    }
    varint() // size
    if (pos + 32 > buf.length) bad()
    fn(kind, buf.subarray(pos, pos + 32))
    pos += 32
  }
  if (pos !== buf.length) bad()
}

export async function planPush(repo: Repository, remote: RemoteIndex, tips: Oid[], o: PlanOptions = {}): Promise<PushPlan> {
  const plan: PushPlan = {dataBlocks: new Map(), meta: [], dataObjects: 0}
  /** Ids seen, as latin1 strings of their 32 bytes. */
  const seen = new Set<string>()
  const remoteEmpty = remote.packs.length === 0
  const wanted = new Map<LoadedPack, number>()
  // Content is looked up in content packs first, metadata in metadata packs first.
  const dataFirst = [...repo.packs.packs].sort((a, b) => (a.index.kind === b.index.kind ? 0 : a.index.kind === 'data' ? -1 : 1))
  let lastYield = performance.now()
  const maybeYield = async (): Promise<void> => {
    if (!o.onPackWanted || performance.now() - lastYield < 10) return
    await new Promise((resolve) => setImmediate(resolve))
    lastYield = performance.now()
  }

  const missingLocally = (id: Uint8Array, what: string): VeloError => {
    const oid = Buffer.from(id).toString('hex')
    return new VeloError('ERR_VELO_NOT_FOUND', `${what} ${oid} is not in this repository, so it cannot be pushed`, {
      hint: 'it was probably never fetched (a --metadata-only pull or a lazy checkout): run velo pull REMOTE without --metadata-only first',
      data: {oid},
    })
  }

  const locateData = (id: Buffer): Location | undefined => {
    for (const pack of dataFirst) {
      const i = pack.index.find(id)
      if (i >= 0) return {pack, record: pack.index.record(i)}
    }
    // A pack written since the walk began (rare): rescan packs/ once.
    return repo.packs.find(id.toString('hex') as Oid)
  }
  const remoteType = (id: Uint8Array): number | undefined => (remoteEmpty ? undefined : remote.locate(id)?.record.type)

  const addData = (loc: Location): void => {
    let s = plan.dataBlocks.get(loc.pack)
    if (!s) plan.dataBlocks.set(loc.pack, (s = new Set()))
    s.add(loc.record.blockOffset)
    plan.dataObjects++
    const n = (wanted.get(loc.pack) ?? 0) + 1
    wanted.set(loc.pack, n)
    if (n === loc.pack.index.count) o.onPackWanted?.(loc.pack)
  }

  const readMeta = (oid: Oid, type: number, what: string): PlannedObject => {
    const loc = repo.packs.find(oid)
    if (!loc) throw missingLocally(Buffer.from(oid, 'hex'), what)
    return {oid, type, data: repo.packs.read(oid, type).data, pack: loc.pack}
  }

  const visitFile = (id: Buffer): void => {
    const key = id.toString('latin1')
    if (seen.has(key)) return
    seen.add(key)
    const rtype = remoteType(id)
    if (rtype === ObjectType.blob) return
    const loc = locateData(id)
    if (rtype === undefined) {
      if (!loc) throw missingLocally(id, 'file content')
      addData(loc)
    }
    if (loc?.record.type === ObjectType.chunkList) {
      const oid = id.toString('hex') as Oid
      for (const c of decodeChunkList(repo.packs.read(oid).data, `chunk list ${oid}`).chunks) {
        const cid = Buffer.from(c.id, 'hex')
        const ckey = cid.toString('latin1')
        if (seen.has(ckey)) continue
        seen.add(ckey)
        if (remoteType(cid) !== undefined) continue
        const cloc = locateData(cid)
        if (!cloc) throw missingLocally(cid, 'file chunk')
        addData(cloc)
      }
    }
  }

  const visitTree = async (id: Buffer): Promise<void> => {
    const key = id.toString('latin1')
    if (seen.has(key)) return
    seen.add(key)
    if (remoteType(id) !== undefined) return
    await maybeYield()
    const oid = id.toString('hex') as Oid
    const obj = readMeta(oid, ObjectType.tree, 'tree')
    const dirs: Buffer[] = []
    scanTree(obj.data, `tree ${oid}`, (kind, child) => {
      if (kind === KIND_DIR) dirs.push(child)
      else visitFile(child)
    })
    for (const d of dirs) await visitTree(d)
    plan.meta.push(obj)
  }

  const visitSnapshots = async (tip: Oid): Promise<void> => {
    // Iterative post-order over parents: ancestors are planned before their descendants.
    const stack: {oid: Oid; obj?: PlannedObject; tree?: Oid}[] = [{oid: tip}]
    while (stack.length > 0) {
      const top = stack.pop()!
      if (top.obj) {
        await visitTree(Buffer.from(top.tree!, 'hex'))
        plan.meta.push(top.obj)
        continue
      }
      const id = Buffer.from(top.oid, 'hex')
      const key = id.toString('latin1')
      if (seen.has(key)) continue
      seen.add(key)
      if (remoteType(id) !== undefined) continue
      const obj = readMeta(top.oid, ObjectType.snapshot, 'snapshot')
      const s = decodeSnapshot(obj.data, `snapshot ${top.oid}`)
      stack.push({oid: top.oid, obj, tree: s.tree})
      for (const p of s.parents) stack.push({oid: p})
    }
  }

  const visitRuns = async (tip: Oid): Promise<void> => {
    // The chain back to a run the remote (or this plan) has, then oldest first: a record goes
    // after its previous run and after everything it names.
    const chain: {obj: PlannedObject; run: RunRecord}[] = []
    for (let cur: Oid | null = tip; cur; ) {
      const id = Buffer.from(cur, 'hex')
      const key = id.toString('latin1')
      if (seen.has(key)) break
      seen.add(key)
      if (remoteType(id) !== undefined) break
      const obj = readMeta(cur, ObjectType.run, 'run record')
      const run = decodeRunRecord(obj.data, `run record ${cur}`)
      chain.push({obj, run})
      cur = run.previous
    }
    for (const {obj, run} of chain.reverse()) {
      await visitSnapshots(run.input)
      await visitSnapshots(run.output)
      visitFile(Buffer.from(run.stdout.id, 'hex'))
      visitFile(Buffer.from(run.stderr.id, 'hex'))
      if (run.trace && 'blob' in run.trace) visitFile(Buffer.from(run.trace.blob, 'hex'))
      plan.meta.push(obj)
    }
  }

  for (const tip of tips) {
    const type = repo.packs.typeOf(tip)
    const id = Buffer.from(tip, 'hex')
    if (type === undefined) throw missingLocally(id, 'object')
    if (type === ObjectType.snapshot) await visitSnapshots(tip)
    else if (type === ObjectType.run) await visitRuns(tip)
    else if (type === ObjectType.tree) await visitTree(id)
    else if (type === ObjectType.blob || type === ObjectType.chunkList) visitFile(id)
    else if (!seen.has(id.toString('latin1'))) {
      seen.add(id.toString('latin1'))
      if (remoteType(id) === undefined) plan.meta.push(readMeta(tip, type, 'object'))
    }
  }
  return plan
}
