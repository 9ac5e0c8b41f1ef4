/**
 * A velo repository: packs of objects, refs with reflogs, caches. Layout in docs/format.md.
 */
import {existsSync, readFileSync, readdirSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'
import {hash} from '../objects/hash.js'
import {type Oid, isOid} from '../objects/oid.js'
import {decodeRunRecord} from '../objects/runRecord.js'
import {decodeSnapshot, encodeSnapshot, type Snapshot} from '../objects/snapshot.js'
import {decodeTree, type TreeEntry} from '../objects/tree.js'
import {ObjectType} from '../pack/block.js'
import {PackWriter, type WrittenPack} from '../pack/PackWriter.js'
import {RefStore, isValidRefName} from '../refs/RefStore.js'
import {PackStore, TYPE_NAMES} from '../store/PackStore.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {atomicWrite, fsyncDir, mkdirp} from '../util/fsx.js'

export const REPO_MARKER = 'velo.json'
export const FORMAT_VERSION = 1

export interface RepoConfig {
  format: 'velo'
  version: number
  created: string
  /** zstd level for data packs. */
  compression?: number
  [key: string]: unknown
}

export function defaultRepoPath(explicit?: string): string {
  if (explicit) return resolve(explicit)
  if (process.env.VELO_REPO) return resolve(process.env.VELO_REPO)
  return join(homedir(), '.velo')
}

export function isRepository(path: string): boolean {
  return existsSync(join(path, REPO_MARKER))
}

export function initRepository(path: string): {path: string; created: boolean} {
  const root = resolve(path)
  if (isRepository(root)) return {path: root, created: false}
  let entries: string[] = []
  try {
    entries = readdirSync(root)
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw fsError(err, root, 'reading')
  }
  if (entries.length > 0) {
    throw new VeloError('ERR_VELO_REPO_EXISTS', `${root} is not empty and is not a velo repository`, {
      hint: 'choose an empty or new directory for the repository',
    })
  }
  for (const d of ['packs', 'refs', 'logs', 'tmp', 'cache', 'locks']) mkdirp(join(root, d))
  const config: RepoConfig = {format: 'velo', version: FORMAT_VERSION, created: new Date().toISOString()}
  atomicWrite(join(root, REPO_MARKER), JSON.stringify(config, null, 2) + '\n')
  return {path: root, created: true}
}

export interface OpenOptions {
  /** Create the repository if the path does not exist yet or is empty. */
  create?: boolean
}

export class Repository {
  readonly packs: PackStore
  readonly refs: RefStore
  readonly config: RepoConfig

  private constructor(readonly root: string) {
    this.config = JSON.parse(readFileSync(join(root, REPO_MARKER), 'utf8')) as RepoConfig
    if (this.config.format !== 'velo' || this.config.version !== FORMAT_VERSION) {
      throw new VeloError('ERR_VELO_NOT_A_REPO', `${root} has an unsupported repository format (${String(this.config.version)})`, {
        hint: 'upgrade velo',
      })
    }
    this.packs = new PackStore(this.packsDir)
    this.refs = new RefStore(root)
  }

  static open(path?: string, o: OpenOptions = {}): Repository {
    const root = defaultRepoPath(path)
    if (!isRepository(root)) {
      let isEmptyOrMissing = false
      try {
        isEmptyOrMissing = statSync(root).isDirectory() && readdirSync(root).length === 0
      } catch (err) {
        if (isErrno(err, 'ENOENT')) isEmptyOrMissing = true
      }
      if (o.create && isEmptyOrMissing) initRepository(root)
      else {
        throw new VeloError('ERR_VELO_NOT_A_REPO', `${root} is not a velo repository`, {
          hint: existsSync(root)
            ? 'pass --repo PATH (or set VELO_REPO) to the repository, or create one with velo init'
            : 'create it with velo init, or take a snapshot first (velo snapshot DIR creates it)',
        })
      }
    }
    return new Repository(root)
  }

  get packsDir(): string {
    return join(this.root, 'packs')
  }
  get tmpDir(): string {
    return join(this.root, 'tmp')
  }
  get cacheDir(): string {
    return join(this.root, 'cache')
  }

  get compressionLevel(): number {
    const env = process.env.VELO_COMPRESSION
    if (env !== undefined && /^-?\d+$/.test(env)) return Number(env)
    return typeof this.config.compression === 'number' ? this.config.compression : 3
  }

  readTree(oid: Oid): TreeEntry[] {
    return decodeTree(this.packs.read(oid, ObjectType.tree).data, `tree ${oid}`)
  }

  readSnapshot(oid: Oid): Snapshot {
    return decodeSnapshot(this.packs.read(oid, ObjectType.snapshot).data, `snapshot ${oid}`)
  }

  metaWriter(): PackWriter {
    mkdirp(this.tmpDir)
    return new PackWriter({packsDir: this.packsDir, tmpDir: this.tmpDir, kind: 'meta', level: 3})
  }

  /** Writes a snapshot object into `w` and returns its id. */
  static addSnapshot(w: PackWriter, s: Snapshot): Oid {
    const bytes = encodeSnapshot(s)
    const id = hash(bytes)
    w.addObject(id, ObjectType.snapshot, bytes)
    return id.toString('hex') as Oid
  }

  /** Makes finished packs durable and visible to this process. */
  commitPacks(written: WrittenPack[]): void {
    if (written.length === 0) return
    fsyncDir(this.packsDir)
    this.packs.refresh()
  }

  /**
   * Resolves a revision to an object id: a full id, a unique prefix (4+ hex digits), a ref name,
   * a remote-tracking ref (REMOTE/REF), each optionally followed by ~N (N-th first parent; for a
   * run record, the N-th previous run).
   */
  resolve(rev: string): Oid {
    const m = /^(.*?)((?:~\d*)*)$/.exec(rev)!
    let base = m[1]
    let oid = this.resolveBase(base)
    for (const step of m[2].split('~').slice(1)) {
      const n = step === '' ? 1 : Number(step)
      for (let i = 0; i < n; i++) {
        if (this.packs.typeOf(oid) === ObjectType.run) {
          // A run record's ~1 is the previous run of its chain (velo run).
          const prev = decodeRunRecord(this.packs.read(oid, ObjectType.run).data, `run record ${oid}`).previous
          if (!prev) throw new VeloError('ERR_VELO_NOT_FOUND', `${rev}: run ${oid.slice(0, 12)} has no previous run`, {hint: 'velo log --runs shows how far the chain goes'})
          oid = prev
          continue
        }
        const s = this.readSnapshot(oid)
        if (s.parents.length === 0) {
          throw new VeloError('ERR_VELO_NOT_FOUND', `${rev}: snapshot ${oid.slice(0, 12)} has no parent`, {
            hint: 'use velo log to see how far the history goes',
          })
        }
        oid = s.parents[0]
        base += '~'
      }
    }
    return oid
  }

  private resolveBase(rev: string): Oid {
    if (rev === '') throw new VeloError('ERR_VELO_USAGE', 'empty revision', {hint: 'name a ref, an id or an id prefix'})
    if (isValidRefName(rev)) {
      const r = this.refs.read(rev) ?? this.refs.read(`remotes/${rev}`)
      if (r) return r
    }
    const lower = rev.toLowerCase()
    if (isOid(lower)) {
      if (!this.packs.has(lower)) {
        throw new VeloError('ERR_VELO_NOT_FOUND', `object ${lower} is not in the repository`, {hint: 'check the id, or velo pull it from a remote'})
      }
      return lower
    }
    if (/^[0-9a-f]{4,63}$/.test(lower)) {
      const c = this.packs.resolvePrefix(lower)
      if (c.length === 1) return c[0]
      if (c.length > 1) {
        const list = c.map((id) => `${id} (${TYPE_NAMES[this.packs.typeOf(id) ?? 0] ?? 'object'})`).join(', ')
        throw new VeloError('ERR_VELO_AMBIGUOUS', `id prefix ${lower} is ambiguous: ${list}`, {
          hint: 'use more digits',
          data: {candidates: c},
        })
      }
    }
    throw new VeloError('ERR_VELO_NOT_FOUND', `unknown revision ${JSON.stringify(rev)}: no such ref or object`, {
      hint: 'list refs with velo ref list; ids need at least 4 hex digits',
    })
  }

  /** Resolves a revision that must name a snapshot; a run record (velo run) stands for its output snapshot. */
  resolveSnapshot(rev: string): Oid {
    const oid = this.resolve(rev)
    const t = this.packs.typeOf(oid)
    if (t === undefined) this.packs.read(oid) // throws: not found, or corrupt when an index is damaged
    if (t === ObjectType.run) return decodeRunRecord(this.packs.read(oid, ObjectType.run).data, `run record ${oid}`).output
    if (t !== ObjectType.snapshot) {
      throw new VeloError('ERR_VELO_NOT_FOUND', `${rev} is a ${TYPE_NAMES[t ?? 0] ?? 'unknown object'}, not a snapshot`, {
        hint: 'name a snapshot: a ref, a snapshot id or a prefix of one (velo log lists them)',
      })
    }
    return oid
  }

  close(): void {
    this.packs.close()
  }
}
