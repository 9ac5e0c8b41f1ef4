/**
 * `velo export git`: a snapshot becomes a git commit on a branch, written into the repository's
 * object store with isomorphic-git (blobs and trees through writeGitObject, the commit with
 * writeCommit; no index, no work tree). The commit is what
 * `git fsck --strict` accepts and `git checkout` turns back into the snapshot: modes 100644/100755,
 * symlinks 120000, empty files. What git cannot hold is reported, not silently dropped: empty
 * directories (`emptyDirs`) and entries git refuses (`.git`, `.gitmodules` as a symlink...).
 * The commit is deterministic for a snapshot and a parent: author and committer times are the
 * snapshot's, so exporting twice gives the same commit (and the second export changes nothing).
 */
import {closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync} from 'node:fs'
import {dirname, join} from 'node:path'
import type {Oid} from '../../objects/oid.js'
import type {Snapshot} from '../../objects/snapshot.js'
import type {TreeEntry} from '../../objects/tree.js'
import {isValidRefName} from '../../refs/RefStore.js'
import type {Repository} from '../../repo/Repository.js'
import {VeloError, fsError, isErrno} from '../../util/errors.js'
import {durable, mkdirp} from '../../util/fsx.js'
import {gitError} from './gitErrors.js'
import {NO_SYMLINK_NAMES, type GitPerson, assertGitBranch, identityText, isDotGitName, isValidGitBranch, parsePerson} from './gitNames.js'
import {type Git, type GitLocation, gitFs, loadGit} from './isomorphicGit.js'
import {limiter} from './limiter.js'
import {findGitRepo, isMissingOrEmpty} from './locateGitRepo.js'
import {type GitTreeItem, encodeGitTree, writeGitObject} from './writeGitObject.js'

export interface ExportGitOptions {
  rev: string
  /** Path of the git repository; created (git init) when missing or empty. */
  repo: string
  /** Default: REV when it is a ref name git accepts, else "velo". */
  branch?: string
  message?: string
  /** Create a bare repository when one is created. */
  bare?: boolean
  onWarning?: (msg: string) => void
  /** Reports git objects written, every 100 ms. */
  onProgress?: (p: {phase: string; unit: string; done: number}) => void
}

export interface ExportGitResult {
  snapshot: Oid
  commit: string
  /** The git tree of the commit. */
  tree: string
  branch: string
  /** The branch's previous commit (the new commit's parent), if it existed. */
  parent: string | null
  createdRepo: boolean
  /** False when the branch already held this export (same tree and message): nothing was written. */
  createdCommit: boolean
  blobs: number
  trees: number
  /** Directories git cannot hold (empty, or holding only what git refuses); mkdir -p them after checkout. */
  emptyDirs: string[]
  skipped: {path: string; reason: string}[]
}

const PARALLEL = 8

interface Converted {
  /** Git tree id, or null when nothing of the directory can be stored. */
  sha: string | null
  /** Relative to the directory ('' = itself). */
  empty: string[]
  skipped: {path: string; reason: string}[]
}

export async function exportGit(repo: Repository, o: ExportGitOptions): Promise<ExportGitResult> {
  const snapshot = repo.resolveSnapshot(o.rev)
  const snap = repo.readSnapshot(snapshot)
  const branch = o.branch ?? (isValidRefName(o.rev) && repo.refs.read(o.rev) && isValidGitBranch(o.rev) ? o.rev : 'velo')
  assertGitBranch(branch)
  const git = await loadGit()
  let loc = findGitRepo(o.repo)
  let createdRepo = false
  if (!loc) {
    if (!isMissingOrEmpty(o.repo)) {
      throw new VeloError('ERR_VELO_USAGE', `${o.repo} exists and is not a git repository`, {hint: 'pass a git repository, or a new or empty directory to create one in'})
    }
    try {
      await git.init({fs: gitFs, dir: o.repo, bare: o.bare, defaultBranch: branch})
    } catch (err) {
      throw gitError(err, o.repo, 'creating the repository')
    }
    createdRepo = true
    loc = findGitRepo(o.repo)!
  }
  const ref = `refs/heads/${branch}`
  const base = {fs: gitFs, gitdir: loc.gitdir}
  assertNotCheckedOut(loc, ref, o.repo)
  const parent = await readBranch(git, loc, ref)

  const r: ExportGitResult = {snapshot, commit: '', tree: '', branch, parent, createdRepo, createdCommit: false, blobs: 0, trees: 0, emptyDirs: [], skipped: []}
  const limit = limiter(PARALLEL)
  let lastReport = 0
  const report = (): void => {
    const now = Date.now()
    if (!o.onProgress || now - lastReport < 100) return
    lastReport = now
    o.onProgress({phase: 'write', unit: 'objects', done: r.blobs + r.trees})
  }
  const blobMemo = new Map<string, Promise<string>>()
  const writeBlob = (key: string, read: () => Uint8Array): Promise<string> => {
    let p = blobMemo.get(key)
    if (!p) {
      p = limit(() => {
        r.blobs++
        report()
        return writeGitObject(git, loc.gitdir, 'blob', read())
      })
      blobMemo.set(key, p)
    }
    return p
  }
  const treeMemo = new Map<Oid, Promise<Converted>>()
  const convert = (id: Oid): Promise<Converted> => {
    let p = treeMemo.get(id)
    if (!p) {
      p = convertTree(id)
      treeMemo.set(id, p)
    }
    return p
  }
  const convertTree = async (id: Oid): Promise<Converted> => {
    const entries = repo.readTree(id)
    const out: Converted = {sha: null, empty: [], skipped: []}
    const gitEntries = await Promise.all(
      entries.map(async (e: TreeEntry): Promise<GitTreeItem | undefined> => {
        if (isDotGitName(e.name)) {
          out.skipped.push({path: e.name, reason: 'git refuses entries named .git'})
          return undefined
        }
        if (e.kind === 'dir') {
          const c = await convert(e.id)
          for (const x of c.empty) out.empty.push(x ? `${e.name}/${x}` : e.name)
          for (const s of c.skipped) out.skipped.push({path: `${e.name}/${s.path}`, reason: s.reason})
          return c.sha === null ? undefined : {mode: '040000', name: e.name, oid: c.sha}
        }
        if (e.kind === 'symlink') {
          if (NO_SYMLINK_NAMES.has(e.name.toLowerCase())) {
            out.skipped.push({path: e.name, reason: `git refuses ${e.name} as a symlink`})
            return undefined
          }
          const sha = await writeBlob(`l:${e.target}`, () => Buffer.from(e.target!, 'utf8'))
          return {mode: '120000', name: e.name, oid: sha}
        }
        const sha = await writeBlob(e.id, () => (e.size === 0 ? new Uint8Array(0) : repo.packs.readContent(e.id)))
        return {mode: e.kind === 'exec' ? '100755' : '100644', name: e.name, oid: sha}
      }),
    )
    const tree = gitEntries.filter((e): e is GitTreeItem => e !== undefined)
    if (tree.length === 0) {
      if (out.empty.length === 0) out.empty.push('')
      return out
    }
    r.trees++
    out.sha = await limit(() => writeGitObject(git, loc.gitdir, 'tree', encodeGitTree(tree)))
    return out
  }

  try {
    const root = await convert(snap.tree)
    r.emptyDirs = root.empty.filter((p) => p !== '').sort()
    r.skipped = root.skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    r.tree = root.sha ?? (await writeGitObject(git, loc.gitdir, 'tree', encodeGitTree([])))
    const message = commitMessage(snap, snapshot, o.message)
    if (parent) {
      const {commit} = await git.readCommit({...base, oid: parent, cache: {}})
      if (commit.tree === r.tree && commit.message === message) {
        r.commit = parent
        warnAbout(r, o.onWarning)
        return r
      }
    }
    // A snapshot imported from git keeps its commit's people and times.
    const committer = safePerson(parsePerson(snap.meta['git.committer'])) ?? velPerson(snap)
    const author = safePerson(parsePerson(snap.meta['git.author'])) ?? committer
    r.commit = await git.writeCommit({...base, commit: {message, tree: r.tree, parent: parent ? [parent] : [], author, committer}})
    await updateBranch(git, loc, ref, parent, r.commit)
    r.createdCommit = true
  } catch (err) {
    throw gitError(err, o.repo, 'writing')
  }
  warnAbout(r, o.onWarning)
  return r
}

function warnAbout(r: ExportGitResult, onWarning?: (msg: string) => void): void {
  if (r.emptyDirs.length > 0) {
    const list = r.emptyDirs.slice(0, 5).join(', ') + (r.emptyDirs.length > 5 ? `, and ${r.emptyDirs.length - 5} more` : '')
    onWarning?.(`git cannot hold empty directories: ${list} (listed in emptyDirs with --json)`)
  }
  for (const s of r.skipped) onWarning?.(`skipped ${s.path}: ${s.reason}`)
}

function safePerson(p: GitPerson | undefined): GitPerson | undefined {
  return p && {...p, name: identityText(p.name) || 'velo', email: identityText(p.email)}
}

/** The snapshot's identity as git's: the user and host that recorded it, at its time. */
function velPerson(s: Snapshot): GitPerson {
  const m = /^(.*) <([^<>]*)>$/.exec(s.user)
  const name = identityText(m ? m[1] : s.user) || 'velo'
  const email = identityText(m ? m[2] : `${s.user.replace(/\s+/g, '.')}@${s.host || 'localhost'}`)
  return {name, email, timestamp: Math.floor(s.time / 1000), timezoneOffset: 0}
}

function commitMessage(s: Snapshot, id: Oid, message?: string): string {
  const text = (message ?? s.message).replace(/\s+$/, '') || `velo snapshot ${id.slice(0, 12)}`
  return `${text}\n\nVelo-Snapshot: ${id}\n`
}

async function readBranch(git: Git, loc: GitLocation, ref: string): Promise<string | null> {
  try {
    return await git.resolveRef({fs: gitFs, gitdir: loc.gitdir, ref})
  } catch (err) {
    if ((err as {code?: string}).code === 'NotFoundError') return null
    throw gitError(err, loc.dir ?? loc.gitdir, 'reading refs')
  }
}

/** Moving the branch under a work tree that has it checked out would leave the work tree stale. */
function assertNotCheckedOut(loc: GitLocation, ref: string, repoPath: string): void {
  if (!loc.dir) return
  let head = ''
  try {
    head = readFileSync(join(loc.gitdir, 'HEAD'), 'utf8').trim()
    readFileSync(join(loc.gitdir, 'index'))
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return
    throw fsError(err, repoPath, 'reading')
  }
  if (head === `ref: ${ref}`) {
    throw new VeloError('ERR_VELO_USAGE', `branch ${ref.slice('refs/heads/'.length)} is checked out in ${repoPath}; moving it would leave the work tree stale`, {
      hint: 'export to another branch with --branch NAME (then git merge or checkout it), or into a new repository',
    })
  }
}

/**
 * Moves the branch the way git does: `<ref>.lock` created exclusively (so a concurrent git command
 * waits or fails, and so do we), compare-and-swap against the value read before writing, rename.
 */
async function updateBranch(git: Git, loc: GitLocation, ref: string, expect: string | null, to: string): Promise<void> {
  const path = join(loc.gitdir, ref)
  const lock = `${path}.lock`
  mkdirp(dirname(path))
  let fd: number
  try {
    fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644)
  } catch (err) {
    if (isErrno(err, 'EEXIST')) {
      throw new VeloError('ERR_VELO_LOCKED', `${ref} is locked by another git command (${lock} exists)`, {hint: 'wait for it to finish; if none runs, delete the lock file'})
    }
    throw fsError(err, lock, 'creating')
  }
  try {
    try {
      writeSync(fd, `${to}\n`)
      if (durable) fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    const now = await readBranch(git, loc, ref)
    if (now !== expect) {
      throw new VeloError('ERR_VELO_REF_CONFLICT', `${ref} moved to ${now ?? '(nothing)'} while velo exported (expected ${expect ?? '(nothing)'})`, {hint: 'run the export again'})
    }
    renameSync(lock, path)
  } catch (err) {
    try {
      unlinkSync(lock)
    } catch {
      /* already renamed or gone */
    }
    throw err
  }
}
