/**
 * `velo pull`: bring a remote's refs and every object they need (their snapshots' history, trees
 * and, unless metadata-only, file contents) into this repository, then update the remote-tracking
 * refs (refs/remotes/REMOTE/REF) and fast-forward the local refs.
 * A ref whose latest entry is a run brings the run's chain and each record's input and output
 * snapshots, stdout, stderr and access trace.
 * Everything fetched lands in a staging directory first and is verified on arrival; only when the
 * whole pull has arrived intact are the packs moved into packs/ (each pack before its index), so a
 * damaged or interrupted pull installs nothing.
 */
import {readdirSync, renameSync, rmSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {decodeChunkList} from '../objects/chunkList.js'
import {decodeRunRecord} from '../objects/runRecord.js'
import type {Oid} from '../objects/oid.js'
import {decodeSnapshot, type Snapshot} from '../objects/snapshot.js'
import {decodeTree} from '../objects/tree.js'
import {ObjectType} from '../pack/block.js'
import {assertRefName} from '../refs/RefStore.js'
import {withRepoLock} from '../repo/RepoLock.js'
import type {Repository} from '../repo/Repository.js'
import {historyReader, isAncestor} from '../remote/ancestry.js'
import {fetchObjects} from '../remote/fetchObjects.js'
import {mapLimit} from '../remote/mapLimit.js'
import {openTransport} from '../remote/openTransport.js'
import type {OnTransferProgress} from '../remote/progress.js'
import {getRemote} from '../remote/RemoteConfig.js'
import {RemoteIndex} from '../remote/RemoteIndex.js'
import {RemoteRepo, type RemoteRef} from '../remote/RemoteRepo.js'
import type {Transport} from '../remote/Transport.js'
import {PackStore, type StoredObject} from '../store/PackStore.js'
import {VeloError} from '../util/errors.js'
import {fsyncDir, mkdirp} from '../util/fsx.js'

export interface PullOptions {
  remote: string
  /** Remote ref names; default: every ref of the remote. */
  refs?: string[]
  /** Only snapshots and trees (file contents are fetched later, on demand). */
  metadataOnly?: boolean
  /** Move local refs even when they have diverged from the remote's. */
  force?: boolean
  /** Leave local refs alone (only the remote-tracking refs move). */
  noLocalRefs?: boolean
  transport?: Transport
  onProgress?: OnTransferProgress
  onWarning?: (msg: string) => void
}

export type PullRefStatus = 'created' | 'fast-forward' | 'forced' | 'up-to-date' | 'ahead' | 'diverged' | 'untouched'

export interface PullRefResult {
  ref: string
  remote: Oid
  /** Local ref before and after. */
  old: Oid | null
  new: Oid | null
  status: PullRefStatus
}

export interface PullResult {
  remote: string
  url: string
  refs: PullRefResult[]
  metadataOnly: boolean
  objects: number
  packs: number
  bytes: number
  requests: number
  seconds: number
}

/** Reads objects from the repository's packs, then from a staging area not installed yet. */
class StagedReader {
  constructor(readonly repo: Repository, readonly staged: PackStore) {}

  locate(id: Uint8Array): PackStore | undefined {
    if (this.repo.packs.locate(id)) return this.repo.packs
    if (this.staged.locate(id)) return this.staged
    return undefined
  }

  has(oid: Oid): boolean {
    return this.locate(Buffer.from(oid, 'hex')) !== undefined
  }

  typeOf(oid: Oid): number | undefined {
    const id = Buffer.from(oid, 'hex')
    return (this.repo.packs.locate(id) ?? this.staged.locate(id))?.record.type
  }

  read(oid: Oid): StoredObject {
    const store = this.locate(Buffer.from(oid, 'hex'))
    if (!store) throw new Error(`StagedReader: ${oid} is not present`)
    return store.read(oid)
  }

  snapshot(oid: Oid): Snapshot | undefined {
    if (this.typeOf(oid) !== ObjectType.snapshot) return undefined
    return decodeSnapshot(this.read(oid).data, `snapshot ${oid}`)
  }
}

/** Holds the shared repository lock throughout, so that no gc or repack removes what it fetches or the refs it moves lead to meanwhile. */
export async function pull(repo: Repository, o: PullOptions): Promise<PullResult> {
  return withRepoLock(repo, 'shared', `pull ${o.remote}`, () => pullLocked(repo, o), {onWarning: o.onWarning})
}

async function pullLocked(repo: Repository, o: PullOptions): Promise<PullResult> {
  const started = Date.now()
  const spec = getRemote(repo, o.remote)
  const transport = o.transport ?? (await openTransport(spec, {repoConfig: repo.config}))
  const remote = new RemoteRepo(transport, o.remote)
  o.onProgress?.({phase: 'refs', done: 0, bytes: 0})
  await remote.checkFormat()
  const refs = await readRemoteRefs(remote, o.refs)
  const result: PullResult = {
    remote: o.remote, url: spec.url, refs: [], metadataOnly: Boolean(o.metadataOnly), objects: 0, packs: 0, bytes: 0, requests: 0, seconds: 0,
  }
  const index = await RemoteIndex.sync(repo, remote, {onProgress: (p) => o.onProgress?.({phase: 'index', done: p.done, total: p.total, bytes: p.bytes})})
  result.requests += 1 + index.downloaded

  const staging = join(repo.tmpDir, `pull-${process.pid}-${randomBytes(4).toString('hex')}`)
  mkdirp(staging)
  const staged = new PackStore(staging)
  const reader = new StagedReader(repo, staged)
  try {
    const fetch = async (ids: Oid[], into: PackStore = staged): Promise<void> => {
      if (ids.length === 0) return
      const r = await fetchObjects({
        transport, index, ids: ids.map((id) => Buffer.from(id, 'hex')), packsDir: into.dir, tmpDir: repo.tmpDir,
        onBytes: (n) => {
          result.bytes += n
          o.onProgress?.({phase: 'download', done: result.requests, bytes: result.bytes})
        },
      })
      result.requests += r.requests
      if (into === staged) {
        result.packs += r.packs.length
        result.objects += r.packs.reduce((a, p) => a + p.objects, 0)
      }
      if (r.missing.length > 0) {
        const oid = Buffer.from(r.missing[0]).toString('hex')
        throw new VeloError('ERR_VELO_NOT_FOUND', `${remote.location} lacks object ${oid} (and ${r.missing.length - 1} more) that its refs need`, {
          hint: 'the remote is incomplete; push the refs to it again from a repository that has them',
          data: {oid, missing: r.missing.length},
        })
      }
      into.refresh()
    }

    // Metadata, breadth first: each level's missing objects arrive in one round (metadata packs
    // come whole, so usually the first round brings everything).
    const files = new Set<Oid>()
    const seen = new Set<Oid>()
    let frontier = [...new Set(refs.map((r) => r.oid))]
    for (const id of frontier) seen.add(id)
    while (frontier.length > 0) {
      await fetch(frontier.filter((id) => !reader.has(id)))
      const next: Oid[] = []
      const add = (id: Oid): void => {
        if (!seen.has(id)) {
          seen.add(id)
          next.push(id)
        }
      }
      for (const id of frontier) {
        const type = reader.typeOf(id)
        if (type === ObjectType.snapshot) {
          const s = decodeSnapshot(reader.read(id).data, `snapshot ${id}`)
          add(s.tree)
          for (const p of s.parents) add(p)
        } else if (type === ObjectType.tree) {
          for (const e of decodeTree(reader.read(id).data, `tree ${id}`)) {
            if (e.kind === 'dir') add(e.id)
            else if (e.kind !== 'symlink') files.add(e.id)
          }
        } else if (type === ObjectType.run) {
          // A run record: its chain, input and output snapshots, stdout, stderr and trace.
          const r = decodeRunRecord(reader.read(id).data, `run record ${id}`)
          add(r.input)
          add(r.output)
          if (r.previous) add(r.previous)
          files.add(r.stdout.id)
          files.add(r.stderr.id)
          if (r.trace && 'blob' in r.trace) files.add(r.trace.blob)
        } else if (type === ObjectType.blob || type === ObjectType.chunkList) files.add(id)
      }
      frontier = next
    }

    if (!o.metadataOnly) {
      // Missing chunk lists are read first into a scratch area (the remote's index tells which files
      // are chunked), so that one round then sees every wanted content object, chunk lists
      // included, and picks whole packs or ranges knowing all of it.
      const probe = new PackStore(`${staging}-lists`)
      try {
        await fetch([...files].filter((id) => !reader.has(id) && index.typeOf(id) === ObjectType.chunkList), probe)
        const wanted = new Set<Oid>()
        for (const id of files) {
          const local = reader.typeOf(id)
          if (local === undefined) wanted.add(id)
          const inProbe = probe.locate(Buffer.from(id, 'hex'))?.record.type === ObjectType.chunkList
          const list = local === ObjectType.chunkList ? reader.read(id) : inProbe ? probe.read(id) : undefined
          if (!list) continue
          for (const c of decodeChunkList(list.data, `chunk list ${id}`).chunks) if (!reader.has(c.id)) wanted.add(c.id)
        }
        await fetch([...wanted])
      } finally {
        probe.close()
        rmSync(probe.dir, {recursive: true, force: true})
      }
    }

    o.onProgress?.({phase: 'install', done: 0, bytes: result.bytes})
    installStaged(repo, staging)
  } finally {
    staged.close()
    rmSync(staging, {recursive: true, force: true})
  }

  result.refs = updateRefs(repo, o, refs)
  result.seconds = (Date.now() - started) / 1000
  const diverged = result.refs.find((r) => r.status === 'diverged')
  if (diverged) {
    throw new VeloError('ERR_VELO_NOT_FAST_FORWARD', `local ref ${diverged.ref} (${diverged.old?.slice(0, 12)}) and ${o.remote}/${diverged.ref} (${diverged.remote.slice(0, 12)}) have diverged; the local ref was left as it is`, {
      hint: `the remote's snapshots are here now as ${o.remote}/${diverged.ref}; pull with --force to move ${diverged.ref} to it`,
      data: {result},
    })
  }
  return result
}

async function readRemoteRefs(remote: RemoteRepo, names: string[] | undefined): Promise<RemoteRef[]> {
  if (!names || names.length === 0) return remote.listRefs()
  for (const n of names) assertRefName(n)
  const refs = await mapLimit([...new Set(names)], remote.transport.capabilities.connections, (n) => remote.readRef(n))
  const missing = names.filter((_, i) => !refs[i])
  if (missing.length > 0) {
    throw new VeloError('ERR_VELO_NOT_FOUND', `${remote.location} has no ref ${missing.join(', ')}`, {
      hint: `list the remote's refs with velo pull ${remote.name} (all refs) or velo ref list remotes/${remote.name}/`,
    })
  }
  return refs as RemoteRef[]
}

/** Moves the staged packs into packs/: content packs first, each pack before its index. */
function installStaged(repo: Repository, staging: string): void {
  const names = readdirSync(staging).filter((f) => f.endsWith('.idx')).map((f) => f.slice(0, -4))
  names.sort((a, b) => (a[0] === b[0] ? 0 : a[0] === 'd' ? -1 : 1))
  if (names.length === 0) return
  mkdirp(repo.packsDir)
  for (const n of names) renameSync(join(staging, `${n}.pack`), join(repo.packsDir, `${n}.pack`))
  fsyncDir(repo.packsDir)
  for (const n of names) renameSync(join(staging, `${n}.idx`), join(repo.packsDir, `${n}.idx`))
  fsyncDir(repo.packsDir)
  repo.packs.refresh()
}

function updateRefs(repo: Repository, o: PullOptions, refs: RemoteRef[]): PullRefResult[] {
  const read = historyReader(repo)
  const out: PullRefResult[] = []
  const pulled = new Set<string>()
  for (const r of refs) {
    pulled.add(r.name)
    const tracking = `remotes/${o.remote}/${r.name}`
    const was = repo.refs.read(tracking) ?? null
    if (was !== r.oid) repo.refs.update(tracking, {to: r.oid, expect: was, command: 'pull', onWarning: o.onWarning})
    const old = repo.refs.read(r.name) ?? null
    const res: PullRefResult = {ref: r.name, remote: r.oid, old, new: old, status: 'up-to-date'}
    out.push(res)
    if (o.noLocalRefs) {
      res.status = 'untouched'
      continue
    }
    if (old === r.oid) continue
    if (old === null) res.status = 'created'
    else if (isAncestor(read, old, r.oid)) res.status = 'fast-forward'
    else if (isAncestor(read, r.oid, old)) {
      res.status = 'ahead'
      continue
    } else if (o.force) res.status = 'forced'
    else {
      res.status = 'diverged'
      continue
    }
    repo.refs.update(r.name, {to: r.oid, expect: old, command: `pull ${o.remote}`, onWarning: o.onWarning})
    res.new = r.oid
  }
  // Pulling every ref also forgets tracking refs of refs the remote no longer has.
  if (!o.refs || o.refs.length === 0) {
    for (const t of repo.refs.list(`remotes/${o.remote}/`)) {
      if (!pulled.has(t.name.slice(`remotes/${o.remote}/`.length))) repo.refs.update(t.name, {to: null, command: 'pull (pruned)'})
    }
  }
  return out
}
