/**
 * `velo import git`: a git commit (and up to N of its first-parent ancestors) becomes velo
 * snapshots, read with isomorphic-git. Blobs become contents (chunked as snapshots are), trees
 * become trees (modes 100644, 100755, 120000, 040000; submodules are skipped with a warning), the
 * commit becomes a snapshot whose meta keeps the commit id (`git.commit`). The mapping (GitMap)
 * makes a re-import read only commits and trees it has not seen.
 */
import {realpathSync} from 'node:fs'
import {hash} from '../../objects/hash.js'
import {compareNames, isSafeName} from '../../objects/names.js'
import type {Oid} from '../../objects/oid.js'
import type {TreeEntry} from '../../objects/tree.js'
import {assertRefName} from '../../refs/RefStore.js'
import {withRepoLock} from '../../repo/RepoLock.js'
import type {Repository} from '../../repo/Repository.js'
import {refNameFor} from '../../snapshot/refNameFor.js'
import {ObjectWriter} from '../../store/ObjectWriter.js'
import {VeloError} from '../../util/errors.js'
import {gitError} from './gitErrors.js'
import {GitMap, type MappedCommit, type MappedTree} from './GitMap.js'
import {formatPerson, refSegment} from './gitNames.js'
import {type CommitObject, type Git, type GitLocation, type GitTreeEntry, gitFs, loadGit} from './isomorphicGit.js'
import {limiter} from './limiter.js'
import {requireGitRepo} from './locateGitRepo.js'

export interface ImportGitOptions {
  /** Path of the git repository (work tree or bare). */
  repo: string
  /** Commit to import: a branch, tag, HEAD, an id or id prefix, each with ~N or ^; default HEAD. */
  rev?: string
  ref?: string
  /** First-parent ancestors to import as well (they become the snapshot's parents). */
  history?: number
  command?: string
  onWarning?: (msg: string) => void
  /** Reports git objects read, every 100 ms. */
  onProgress?: (p: {phase: string; unit: string; done: number}) => void
}

export interface ImportedCommit {
  commit: string
  id: Oid
  /** Taken from an earlier import (not read again). */
  reused: boolean
}

export interface ImportGitResult {
  id: Oid
  ref: string
  commit: string
  tree: Oid
  /** The ref's previous snapshot. */
  parent: Oid | null
  /** Oldest first; the last one is the imported commit. */
  snapshots: ImportedCommit[]
  imported: number
  reused: number
  readCommits: number
  readTrees: number
  readBlobs: number
  skipped: {path: string; reason: string}[]
  newObjects: number
  storedBytes: number
}

/** Reads of git objects in flight at once. */
const PARALLEL = 8

/** Holds the shared repository lock throughout, so that no gc or repack removes what it writes meanwhile. */
export async function importGit(repo: Repository, o: ImportGitOptions): Promise<ImportGitResult> {
  return withRepoLock(repo, 'shared', o.command ?? 'import git', () => importGitLocked(repo, o), {onWarning: o.onWarning})
}

async function importGitLocked(repo: Repository, o: ImportGitOptions): Promise<ImportGitResult> {
  const history = o.history ?? 0
  if (!Number.isInteger(history) || history < 0) throw new VeloError('ERR_VELO_USAGE', '--history takes a number of commits (0 or more)')
  const loc = requireGitRepo(o.repo)
  const git = await loadGit()
  const cache = {}
  const rev = o.rev ?? 'HEAD'
  const map = GitMap.load(repo)
  // A commit already imported needs no reading to know it is a commit (reading one object of a
  // pack makes isomorphic-git load the whole pack).
  const tip = await resolveGitRev(git, loc, rev, cache, o.repo, (sha) => map.commit(sha) !== undefined)
  const ref = o.ref ?? `git/${refNameFor(realpathSync(o.repo))}/${tip.label.split('/').map(refSegment).join('/')}`
  assertRefName(ref)
  const writer = new ObjectWriter(repo)
  const r: ImportGitResult = {
    id: '' as Oid, ref, commit: tip.sha, tree: '' as Oid, parent: null, snapshots: [], imported: 0, reused: 0,
    readCommits: 0, readTrees: 0, readBlobs: 0, skipped: [], newObjects: 0, storedBytes: 0,
  }
  const skip = (path: string, reason: string): void => {
    r.skipped.push({path, reason})
    o.onWarning?.(`skipped ${path}: ${reason}`)
  }
  const limit = limiter(PARALLEL)
  let lastReport = 0
  const report = (): void => {
    const now = Date.now()
    if (!o.onProgress || now - lastReport < 100) return
    lastReport = now
    o.onProgress({phase: 'read', unit: 'objects', done: r.readCommits + r.readTrees + r.readBlobs})
  }
  /** Set on failure: reads still in flight must not write into the aborted writer. */
  let aborted = false
  const check = (): void => {
    if (aborted) throw new Error('import git: aborted')
  }
  const base = {fs: gitFs, gitdir: loc.gitdir, cache}

  const blobMemo = new Map<string, Promise<Uint8Array>>()
  const readBlob = (oid: string): Promise<Uint8Array> => {
    let p = blobMemo.get(oid)
    if (!p) {
      p = limit(async () => {
        r.readBlobs++
        report()
        return (await git.readBlob({...base, oid})).blob
      })
      blobMemo.set(oid, p)
    }
    return p
  }
  const contentMemo = new Map<string, Promise<{id: Oid; size: number}>>()
  const content = (oid: string): Promise<{id: Oid; size: number}> => {
    let p = contentMemo.get(oid)
    if (!p) {
      const known = map.blob(oid)
      p = known
        ? Promise.resolve(known)
        : readBlob(oid).then((b) => {
            check()
            blobMemo.delete(oid)
            const c = {id: writer.writeBlob(b), size: b.length}
            map.addBlob(oid, c)
            return c
          })
      contentMemo.set(oid, p)
    }
    return p
  }

  const treeMemo = new Map<string, Promise<MappedTree>>()
  const convertTree = (sha: string, path: string): Promise<MappedTree> => {
    let p = treeMemo.get(sha)
    if (!p) {
      p = (async () => {
        const known = map.tree(sha)
        if (known) return known
        const {tree} = await limit(() => git.readTree({...base, oid: sha}))
        r.readTrees++
        const entries = (await Promise.all(tree.map((e) => convertEntry(e, path)))).filter((e): e is TreeEntry => e !== undefined)
        check()
        entries.sort((a, b) => compareNames(a.name, b.name))
        const size = entries.reduce((a, e) => a + (e.kind === 'symlink' ? 0 : e.size), 0)
        const t = {tree: writer.writeTree(entries), size}
        map.addTree(sha, t)
        return t
      })()
      treeMemo.set(sha, p)
    }
    return p
  }
  const convertEntry = async (e: GitTreeEntry, dir: string): Promise<TreeEntry | undefined> => {
    const path = dir ? `${dir}/${e.path}` : e.path
    if (!isSafeName(e.path)) {
      throw new VeloError('ERR_VELO_UNSAFE_PATH', `git tree entry ${JSON.stringify(path)} has an unsafe name`, {hint: 'the repository is damaged or hostile; git fsck shows it'})
    }
    switch (e.mode) {
      case '040000': {
        const t = await convertTree(e.oid, path)
        return {name: e.path, kind: 'dir', size: t.size, id: t.tree}
      }
      case '100644':
      case '100755': {
        const c = await content(e.oid)
        return {name: e.path, kind: e.mode === '100755' ? 'exec' : 'file', size: c.size, id: c.id}
      }
      case '120000': {
        const bytes = await readBlob(e.oid)
        let target: string
        try {
          target = new TextDecoder('utf-8', {fatal: true}).decode(bytes)
        } catch {
          skip(path, 'symlink target is not UTF-8')
          return undefined
        }
        if (target === '' || target.includes('\0')) {
          skip(path, 'symlink target is empty or holds NUL')
          return undefined
        }
        return {name: e.path, kind: 'symlink', size: bytes.length, id: hash(bytes).toString('hex') as Oid, target}
      }
      case '160000':
        skip(path, `git submodule (commit ${e.oid}) is not part of the repository's content`)
        return undefined
      default:
        skip(path, `unsupported git mode ${e.mode}`)
        return undefined
    }
  }

  try {
    // Walk back from the tip to what is wanted or already imported, newest first.
    const chain: {sha: string; commit: CommitObject}[] = []
    let link: MappedCommit | undefined
    let sha = tip.sha
    let budget = history
    for (;;) {
      const m = map.commit(sha)
      if (m && m.depth >= budget) {
        link = m
        if (chain.length === 0) r.snapshots.push({commit: sha, id: m.snapshot, reused: true})
        break
      }
      const {commit} = await git.readCommit({...base, oid: sha})
      r.readCommits++
      chain.push({sha, commit})
      const p = commit.parent[0]
      if (p === undefined) break
      if (budget === 0) {
        link = map.commit(p)
        break
      }
      budget--
      sha = p
    }
    r.reused = link ? 1 : 0
    // Snapshots oldest first: each one's parent is the one before (or the linked earlier import).
    let prev: MappedCommit | undefined = link
    let tipTree: Oid | undefined
    for (let i = chain.length - 1; i >= 0; i--) {
      const {sha: c, commit} = chain[i]
      const t = await convertTree(commit.tree, '')
      const depth = prev ? prev.depth + 1 : commit.parent.length === 0 ? Infinity : 0
      const meta: Record<string, string> = {
        'git.commit': c,
        'git.tree': commit.tree,
        'git.author': formatPerson(commit.author),
        'git.committer': formatPerson(commit.committer),
      }
      if (commit.parent.length > 0) meta['git.parents'] = commit.parent.join(' ')
      const id = writer.writeSnapshot({
        tree: t.tree,
        parents: prev ? [prev.snapshot] : [],
        time: commit.committer.timestamp * 1000,
        user: `${commit.author.name} <${commit.author.email}>`,
        host: '',
        message: commit.message.replace(/\n$/, ''),
        meta,
      })
      map.addCommit(c, {snapshot: id, depth})
      r.snapshots.push({commit: c, id, reused: false})
      r.imported++
      prev = {snapshot: id, depth}
      tipTree = t.tree
    }
    r.id = prev!.snapshot
    r.tree = tipTree ?? repo.readSnapshot(r.id).tree
  } catch (err) {
    aborted = true
    writer.abort()
    throw gitError(err, o.repo, 'reading')
  }
  const written = writer.commit()
  map.save()
  r.parent = repo.refs.read(ref) ?? null
  if (r.parent !== r.id) {
    repo.refs.update(ref, {to: r.id, expect: r.parent, command: o.command ?? 'import git', message: `git ${tip.sha}`, onWarning: o.onWarning})
  }
  r.newObjects = writer.newObjects
  r.storedBytes = written.reduce((a, w) => a + w.bytes, 0)
  return r
}

/**
 * Resolves a git revision to a commit id: HEAD, a branch, tag or remote branch, a full or
 * abbreviated id, each followed by any of ~N, ^ and ^N. `label` names it for a default ref.
 */
export async function resolveGitRev(
  git: Git,
  loc: GitLocation,
  rev: string,
  cache: object,
  repoPath: string,
  isKnownCommit: (sha: string) => boolean = () => false,
): Promise<{sha: string; label: string}> {
  const m = /^(.*?)((?:[~^]\d*)*)$/.exec(rev)!
  const name = m[1]
  const notFound = (cause?: unknown): VeloError =>
    new VeloError('ERR_VELO_NOT_FOUND', `unknown revision ${JSON.stringify(rev)} in git repository ${repoPath}`, {hint: 'list branches and tags with git -C REPO show-ref; the repository may have no commits yet', cause})
  if (name === '') throw notFound()
  const base = {fs: gitFs, gitdir: loc.gitdir, cache}
  let sha: string | undefined
  try {
    sha = await git.resolveRef({...base, ref: name})
  } catch (err) {
    if (!/^[0-9a-f]{4,40}$/i.test(name)) throw notFound(err)
  }
  if (sha === undefined) {
    try {
      sha = await git.expandOid({...base, oid: name.toLowerCase()})
    } catch (err) {
      throw notFound(err)
    }
  }
  if (!isKnownCommit(sha)) sha = await peelToCommit(git, base, sha, rev, repoPath)
  for (const step of m[2].match(/[~^]\d*/g) ?? []) {
    const n = step.length > 1 ? Number(step.slice(1)) : 1
    if (step[0] === '~') {
      for (let i = 0; i < n; i++) sha = await nthParent(git, base, sha, 1, rev, repoPath)
    } else if (n > 0) {
      sha = await nthParent(git, base, sha, n, rev, repoPath)
    }
  }
  let label = m[2] === '' ? name : sha.slice(0, 12)
  if (name === 'HEAD' && m[2] === '') {
    const branch = await git.currentBranch({fs: gitFs, gitdir: loc.gitdir}).catch(() => undefined)
    label = branch || sha.slice(0, 12)
  } else if (/^[0-9a-f]{4,40}$/i.test(name) && sha.startsWith(name.toLowerCase())) {
    label = sha.slice(0, 12)
  }
  return {sha, label: label.replace(/^refs\/(heads|tags)\//, '')}
}

async function peelToCommit(git: Git, base: {fs: typeof gitFs; gitdir: string; cache: object}, sha: string, rev: string, repoPath: string): Promise<string> {
  for (let i = 0; i < 16; i++) {
    const obj = await git.readObject({...base, oid: sha, format: 'parsed'})
    if (obj.type === 'commit') return sha
    if (obj.type !== 'tag') {
      throw new VeloError('ERR_VELO_NOT_FOUND', `${rev} names a git ${obj.type}, not a commit`, {hint: `velo import git takes a commit (git -C ${repoPath} log shows them)`})
    }
    sha = (obj.object as {object: string}).object
  }
  throw new VeloError('ERR_VELO_NOT_FOUND', `${rev}: too many nested tags`)
}

async function nthParent(git: Git, base: {fs: typeof gitFs; gitdir: string; cache: object}, sha: string, n: number, rev: string, repoPath: string): Promise<string> {
  const {commit} = await git.readCommit({...base, oid: sha})
  const p = commit.parent[n - 1]
  if (!p) throw new VeloError('ERR_VELO_NOT_FOUND', `${rev}: commit ${sha.slice(0, 12)} has no parent ${n}`, {hint: `see git -C ${repoPath} log`})
  return p
}
