/**
 * `velo push`: send snapshots and everything they need to a remote, then move the remote refs.
 * Order of writes (what keeps a remote consistent at every moment, docs/format.md "Remotes"):
 * content packs, each before its index; then metadata packs; then their indexes, one at a time in
 * the order written (children before parents); then each ref, by a conditional write.
 */
import {closeSync, openSync, readSync, rmSync, statSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {hash} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {PackWriter, type WrittenPack} from '../pack/PackWriter.js'
import {assertRefName} from '../refs/RefStore.js'
import {withRepoLock} from '../repo/RepoLock.js'
import type {Repository} from '../repo/Repository.js'
import {historyReader, isAncestor} from '../remote/ancestry.js'
import {createLimiter, mapLimit} from '../remote/mapLimit.js'
import {openTransport} from '../remote/openTransport.js'
import {planPush, type PushPlan} from '../remote/planPush.js'
import type {OnTransferProgress} from '../remote/progress.js'
import {getRemote} from '../remote/RemoteConfig.js'
import {RemoteIndex, blockEntries, type RemotePack} from '../remote/RemoteIndex.js'
import {RemoteRepo, indexKey, packKey, type RemoteRef} from '../remote/RemoteRepo.js'
import type {Transport} from '../remote/Transport.js'
import {verifyBlock} from '../remote/verifyPack.js'
import type {LoadedPack} from '../store/PackStore.js'
import {VeloError} from '../util/errors.js'
import {mkdirp} from '../util/fsx.js'

export interface PushOptions {
  /** A configured remote name. */
  remote: string
  /** REF (same name on the remote) or SRC:DST (SRC any revision). Default: every local ref. */
  refs?: string[]
  /** Allow updates that are not fast-forwards. */
  force?: boolean
  /** Use this transport instead of opening the remote's URL (tests wrap transports). */
  transport?: Transport
  onProgress?: OnTransferProgress
  onWarning?: (msg: string) => void
}

export type PushRefStatus = 'created' | 'fast-forward' | 'forced' | 'up-to-date'

export interface PushRefResult {
  ref: string
  src: string
  old: Oid | null
  new: Oid
  status: PushRefStatus
}

export interface PushResult {
  remote: string
  url: string
  refs: PushRefResult[]
  objects: number
  packs: number
  bytes: number
  seconds: number
}

interface UploadUnit {
  name: string
  kind: 'data' | 'meta'
  /** File to send and the index bytes or file. */
  packPath: string
  idxPath: string
  size: number
  /** Verify the pack file's checksum against its name before sending (local packs sent as they are). */
  verify: boolean
}

/** Holds the shared repository lock throughout, so that no gc or repack removes what it uploads meanwhile. */
export async function push(repo: Repository, o: PushOptions): Promise<PushResult> {
  return withRepoLock(repo, 'shared', `push ${o.remote}`, () => pushLocked(repo, o), {onWarning: o.onWarning})
}

async function pushLocked(repo: Repository, o: PushOptions): Promise<PushResult> {
  const started = Date.now()
  const spec = getRemote(repo, o.remote)
  const transport = o.transport ?? (await openTransport(spec, {repoConfig: repo.config}))
  const remote = new RemoteRepo(transport, o.remote)
  const specs = parseRefspecs(repo, o.refs)

  o.onProgress?.({phase: 'refs', done: 0, bytes: 0})
  // The format marker, the refs and the pack listing are independent requests: all at once.
  const [, current] = await Promise.all([
    remote.checkFormat({create: true}),
    mapLimit(specs, transport.capabilities.connections, (s) => remote.readRef(s.dst)),
  ])
  const syncing = RemoteIndex.sync(repo, remote, {onProgress: (p) => o.onProgress?.({phase: 'index', done: p.done, total: p.total, bytes: p.bytes})})
  syncing.catch(() => undefined) // awaited below, unless the refs already say there is nothing to do
  const readLocal = historyReader(repo)
  const results: PushRefResult[] = []
  const todo: {res: PushRefResult; expect: RemoteRef | null}[] = []
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]
    const cur = current[i] ?? null
    const res: PushRefResult = {ref: s.dst, src: s.src, old: cur?.oid ?? null, new: s.oid, status: 'up-to-date'}
    results.push(res)
    if (cur?.oid === s.oid) continue
    if (!cur) res.status = 'created'
    else if (repo.packs.has(cur.oid) && isAncestor(readLocal, cur.oid, s.oid)) res.status = 'fast-forward'
    else if (o.force) res.status = 'forced'
    else {
      throw new VeloError('ERR_VELO_NOT_FAST_FORWARD', `remote ref ${o.remote}/${s.dst} is at ${cur.oid.slice(0, 12)}, which is not in the history of ${s.src} (${s.oid.slice(0, 12)})`, {
        hint: `run velo pull ${o.remote} ${s.dst} to bring its snapshots here first, or push with --force to replace it`,
        data: {ref: s.dst, remote: cur.oid, local: s.oid},
      })
    }
    todo.push({res, expect: cur})
  }
  const result: PushResult = {remote: o.remote, url: spec.url, refs: results, objects: 0, packs: 0, bytes: 0, seconds: 0}
  if (todo.length === 0) {
    result.seconds = (Date.now() - started) / 1000
    return result
  }

  const index = await syncing
  const tmp = join(repo.tmpDir, `push-${process.pid}-${randomBytes(4).toString('hex')}`)
  mkdirp(tmp)
  let sent = 0
  let packsDone = 0
  let packsTotal: number | undefined
  let totalBytes: number | undefined
  const progress = (): void => o.onProgress?.({phase: 'upload', done: packsDone, total: packsTotal, bytes: sent, totalBytes})
  const sendPack = async (u: UploadUnit): Promise<void> => {
    const bytes = await readFile(u.packPath)
    if (u.verify && hash(bytes.subarray(0, bytes.length - 32)).toString('hex') !== u.name.slice(2)) {
      throw new VeloError('ERR_VELO_CORRUPT', `local pack ${u.name} is damaged (checksum mismatch); it was not pushed`, {
        hint: 'run velo fsck',
        data: {pack: u.name},
      })
    }
    await transport.put(packKey(u.name), bytes)
    sent += bytes.length
    progress()
  }
  const sendIndex = async (u: UploadUnit): Promise<void> => {
    const idx = await readFile(u.idxPath)
    await transport.put(indexKey(u.name), idx)
    RemoteIndex.remember(repo, o.remote, u.name, idx)
    sent += idx.length
    packsDone++
    progress()
  }
  // Pack bodies are invisible until their index is there, so they all go up in parallel; a
  // content pack's index follows its pack; metadata indexes wait for every content index and then
  // go one at a time, in the order they were written. Local content packs that are wanted whole
  // start going up while the walk is still running.
  const limit = createLimiter(Math.min(4, transport.capabilities.connections))
  const uploads: Promise<void>[] = []
  const early = new Set<LoadedPack>()
  const start = (fn: () => Promise<void>): void => {
    const p = limit(fn)
    p.catch(() => undefined) // awaited below; this only keeps an early failure from being "unhandled"
    uploads.push(p)
  }
  try {
    const plan = await planPush(repo, index, [...new Set(todo.map((t) => t.res.new))], {
      onPackWanted: (pack) => {
        if (pack.index.kind !== 'data') return
        early.add(pack)
        const u = verbatimUnit(pack)
        start(async () => {
          await sendPack(u)
          await sendIndex(u)
        })
      },
    })
    result.objects = plan.dataObjects + plan.meta.length
    o.onProgress?.({phase: 'plan', done: result.objects, total: result.objects, bytes: sent})
    const {data, meta} = preparePacks(plan, tmp, early)
    packsTotal = early.size + data.length + meta.length
    totalBytes = [...early].reduce((a, p) => a + statSync(p.path).size, 0) + [...data, ...meta].reduce((a, u) => a + u.size, 0)
    for (const u of data) {
      start(async () => {
        await sendPack(u)
        await sendIndex(u)
      })
    }
    for (const u of meta) start(() => sendPack(u))
    await Promise.all(uploads)
    for (const u of meta) await sendIndex(u)
    result.packs = packsTotal
    result.bytes = sent
  } finally {
    await Promise.allSettled(uploads)
    rmSync(tmp, {recursive: true, force: true})
  }

  let conflict: unknown
  for (const t of todo) {
    try {
      await remote.writeRef(t.res.ref, t.res.new, t.expect)
    } catch (err) {
      conflict ??= err
      continue
    }
    repo.refs.update(`remotes/${o.remote}/${t.res.ref}`, {to: t.res.new, command: 'push', onWarning: o.onWarning})
  }
  if (conflict) throw conflict
  result.seconds = (Date.now() - started) / 1000
  return result
}

interface Refspec {
  src: string
  dst: string
  oid: Oid
}

function parseRefspecs(repo: Repository, refs: string[] | undefined): Refspec[] {
  const list = refs && refs.length > 0 ? refs : repo.refs.list().filter((r) => !r.name.startsWith('remotes/')).map((r) => r.name)
  if (list.length === 0) {
    throw new VeloError('ERR_VELO_USAGE', 'nothing to push: this repository has no refs', {hint: 'take a snapshot first: velo snapshot DIR --ref NAME'})
  }
  const seen = new Set<string>()
  return list.map((s) => {
    const colon = s.indexOf(':')
    const src = colon < 0 ? s : s.slice(0, colon)
    const dst = colon < 0 ? s : s.slice(colon + 1)
    assertRefName(dst)
    if (dst.startsWith('remotes/')) {
      throw new VeloError('ERR_VELO_BAD_REF_NAME', `cannot push to ${dst}: remotes/ is for remote-tracking refs`, {hint: 'name the remote ref with SRC:DST'})
    }
    if (seen.has(dst)) throw new VeloError('ERR_VELO_USAGE', `ref ${dst} named twice`)
    seen.add(dst)
    return {src, dst, oid: repo.resolve(src)}
  })
}

/**
 * Turns the plan into pack files: a local data pack whose every block is wanted is sent as it is;
 * otherwise the wanted blocks are copied byte for byte (verified) into new packs. Metadata objects
 * are written into new metadata packs in plan order.
 */
function verbatimUnit(pack: LoadedPack): UploadUnit {
  return {
    name: pack.name, kind: pack.index.kind, packPath: pack.path, idxPath: `${pack.path.slice(0, -'.pack'.length)}.idx`,
    size: statSync(pack.path).size, verify: true,
  }
}

function preparePacks(plan: PushPlan, tmp: string, skip: Set<LoadedPack>): {data: UploadUnit[]; meta: UploadUnit[]} {
  const data: UploadUnit[] = []
  const copied = {
    data: new PackWriter({packsDir: tmp, tmpDir: tmp, kind: 'data', level: 0}),
    meta: new PackWriter({packsDir: tmp, tmpDir: tmp, kind: 'meta', level: 0}),
  }
  const metaWriter = new PackWriter({packsDir: tmp, tmpDir: tmp, kind: 'meta', level: 3})
  const unitFor = (w: WrittenPack, dir: string, verify: boolean): UploadUnit => ({
    name: w.name, kind: w.kind, packPath: join(dir, `${w.name}.pack`), idxPath: join(dir, `${w.name}.idx`), size: w.bytes, verify,
  })
  try {
    for (const [pack, offsets] of plan.dataBlocks) {
      if (skip.has(pack)) continue
      const rp: RemotePack = {name: pack.name, index: pack.index}
      if (offsets.size === countBlocks(rp)) {
        data.push(verbatimUnit(pack))
        continue
      }
      const fd = openSync(pack.path, 'r')
      try {
        for (const off of [...offsets].sort((a, b) => a - b)) {
          const entries = blockEntries(rp, off)
          const bytes = Buffer.allocUnsafe(entries[0].blockLength)
          if (readSync(fd, bytes, 0, bytes.length, off) !== bytes.length) {
            throw new VeloError('ERR_VELO_CORRUPT', `local pack ${pack.name} is truncated`, {hint: 'run velo fsck'})
          }
          const payload = verifyBlock(bytes, entries, `local pack ${pack.name}`)
          copied[pack.index.kind].addBlock({bytes, rawLength: payload.length, entries: entries.map((e) => ({id: e.id, type: e.type, offset: e.offset, length: e.length}))})
        }
      } finally {
        closeSync(fd)
      }
    }
    for (const w of [...copied.data.finish(), ...copied.meta.finish()]) data.push(unitFor(w, tmp, false))
    // Metadata: a local metadata pack that is wanted whole (a first push) goes as it is, in one
    // piece; otherwise the objects are written into new packs in plan order.
    const packs = new Set(plan.meta.map((m) => m.pack))
    const only = packs.size === 1 ? [...packs][0] : undefined
    let meta: UploadUnit[]
    if (only && only.index.kind === 'meta' && only.index.count === plan.meta.length) {
      meta = [verbatimUnit(only)]
    } else {
      for (const m of plan.meta) metaWriter.addObject(Buffer.from(m.oid, 'hex'), m.type, m.data)
      meta = metaWriter.finish().map((w) => unitFor(w, tmp, false))
    }
    return {data, meta}
  } catch (err) {
    copied.data.abort()
    copied.meta.abort()
    metaWriter.abort()
    throw err
  }
}

function countBlocks(rp: RemotePack): number {
  blockEntries(rp, -1)
  return rp.blocks!.size
}
