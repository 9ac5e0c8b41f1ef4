/** Finding the git directory of a path: a work tree with .git, or a bare repository. */
import {existsSync, readFileSync, readdirSync, statSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {VeloError, isErrno} from '../../util/errors.js'
import type {GitLocation} from './isomorphicGit.js'

function isGitDir(p: string): boolean {
  return existsSync(join(p, 'HEAD')) && existsSync(join(p, 'objects')) && existsSync(join(p, 'refs'))
}

/** The git repository at `path`, or undefined when there is none. */
export function findGitRepo(path: string): GitLocation | undefined {
  const root = resolve(path)
  const dotGit = join(root, '.git')
  let st
  try {
    st = statSync(dotGit)
  } catch (err) {
    if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err
  }
  if (st?.isDirectory()) return {gitdir: dotGit, dir: root}
  if (st?.isFile()) {
    const m = /^gitdir: (.*)$/m.exec(readFileSync(dotGit, 'utf8'))
    const gitdir = m ? resolve(root, m[1].trim()) : ''
    if (gitdir && existsSync(join(gitdir, 'commondir'))) {
      throw new VeloError('ERR_VELO_USAGE', `${path} is a linked git worktree, which velo cannot read`, {hint: 'pass the path of the main work tree (or the repository itself)'})
    }
    if (gitdir && isGitDir(gitdir)) return {gitdir, dir: root}
  }
  if (isGitDir(root)) return {gitdir: root}
  return undefined
}

export function requireGitRepo(path: string): GitLocation {
  const loc = findGitRepo(path)
  if (!loc) {
    throw new VeloError('ERR_VELO_NOT_FOUND', `${path} is not a git repository`, {hint: 'pass a git work tree (with .git) or a bare repository'})
  }
  return loc
}

/** True when `path` does not exist or is an empty directory (a new repository may go there). */
export function isMissingOrEmpty(path: string): boolean {
  try {
    return statSync(path).isDirectory() && readdirSync(path).length === 0
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return true
    throw err
  }
}
