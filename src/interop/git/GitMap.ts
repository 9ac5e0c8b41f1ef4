/**
 * The git import mapping, `<repo>/interop/git-map` (docs/format.md, "Interop"): which git commits,
 * trees and file blobs were already turned into which velo snapshots, trees and contents, so that
 * importing again reads only what is new. Text, one record per line, appended after the objects it names are durable:
 *   c <git commit> <velo snapshot> <depth>   depth: first-parent ancestors in the velo history, or * (all)
 *   t <git tree> <velo tree> <size>
 *   b <git blob> <velo content> <size>
 * Git ids are global, so one map serves every git repository imported into the velo repository.
 * Records naming objects the repository no longer has are ignored; malformed lines too.
 */
import {appendFileSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {type Oid, isOid} from '../../objects/oid.js'
import type {Repository} from '../../repo/Repository.js'
import {fsError, isErrno} from '../../util/errors.js'
import {mkdirp} from '../../util/fsx.js'

export interface MappedCommit {
  snapshot: Oid
  /** First-parent ancestors the velo snapshot has; Infinity when it reaches the git root. */
  depth: number
}

export interface MappedTree {
  tree: Oid
  size: number
}

export interface MappedBlob {
  id: Oid
  size: number
}

const shaRe = /^[0-9a-f]{40}$/

export class GitMap {
  private readonly commits = new Map<string, MappedCommit>()
  private readonly trees = new Map<string, MappedTree>()
  private readonly blobs = new Map<string, MappedBlob>()
  private pending: string[] = []

  private constructor(private readonly repo: Repository) {}

  static path(repo: Repository): string {
    return join(repo.root, 'interop', 'git-map')
  }

  static load(repo: Repository): GitMap {
    const m = new GitMap(repo)
    let text = ''
    try {
      text = readFileSync(GitMap.path(repo), 'utf8')
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw fsError(err, GitMap.path(repo), 'reading')
    }
    const end = text.lastIndexOf('\n')
    for (const line of text.slice(0, end + 1).split('\n')) {
      const f = line.split(' ')
      if (f.length !== 4 || !shaRe.test(f[1]) || !isOid(f[2])) continue
      if (f[0] === 'c' && (f[3] === '*' || /^\d+$/.test(f[3]))) {
        const depth = f[3] === '*' ? Infinity : Number(f[3])
        const old = m.commits.get(f[1])
        if (!old || depth >= old.depth) m.commits.set(f[1], {snapshot: f[2], depth})
      } else if (f[0] === 't' && /^\d+$/.test(f[3])) {
        m.trees.set(f[1], {tree: f[2], size: Number(f[3])})
      } else if (f[0] === 'b' && /^\d+$/.test(f[3])) {
        m.blobs.set(f[1], {id: f[2], size: Number(f[3])})
      }
    }
    return m
  }

  /** The snapshot of a commit, if it was imported and the snapshot is still in the repository. */
  commit(sha: string): MappedCommit | undefined {
    const c = this.commits.get(sha)
    if (c && !this.repo.packs.has(c.snapshot)) {
      this.commits.delete(sha)
      return undefined
    }
    return c
  }

  tree(sha: string): MappedTree | undefined {
    const t = this.trees.get(sha)
    if (t && !this.repo.packs.has(t.tree)) {
      this.trees.delete(sha)
      return undefined
    }
    return t
  }

  blob(sha: string): MappedBlob | undefined {
    const b = this.blobs.get(sha)
    if (b && !this.repo.packs.has(b.id)) {
      this.blobs.delete(sha)
      return undefined
    }
    return b
  }

  addBlob(sha: string, b: MappedBlob): void {
    if (this.blobs.get(sha)?.id === b.id) return
    this.blobs.set(sha, b)
    this.pending.push(`b ${sha} ${b.id} ${b.size}\n`)
  }

  addCommit(sha: string, c: MappedCommit): void {
    const old = this.commits.get(sha)
    if (old && old.snapshot === c.snapshot && old.depth >= c.depth) return
    if (!old || c.depth >= old.depth) this.commits.set(sha, c)
    this.pending.push(`c ${sha} ${c.snapshot} ${c.depth === Infinity ? '*' : c.depth}\n`)
  }

  addTree(sha: string, t: MappedTree): void {
    if (this.trees.get(sha)?.tree === t.tree) return
    this.trees.set(sha, t)
    this.pending.push(`t ${sha} ${t.tree} ${t.size}\n`)
  }

  /** Appends the new records. Call after the objects they name are committed. */
  save(): number {
    if (this.pending.length === 0) return 0
    const p = GitMap.path(this.repo)
    mkdirp(join(this.repo.root, 'interop'))
    try {
      appendFileSync(p, this.pending.join(''))
    } catch (err) {
      throw fsError(err, p, 'appending to')
    }
    const n = this.pending.length
    this.pending = []
    return n
  }
}
