/** isomorphic-git's errors as VeloErrors (they carry a `code` naming their class). */
import {VeloError, fsError, isErrno} from '../../util/errors.js'

export function gitError(err: unknown, repoPath: string, doing: string): unknown {
  if (err instanceof VeloError) return err
  const e = err as {code?: string; message?: string; syscall?: string}
  if (isErrno(err, 'ENOENT', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT', 'EROFS', 'EIO') && typeof e.syscall === 'string') {
    return fsError(err, repoPath, doing)
  }
  if (e?.code === 'NotFoundError') {
    return new VeloError('ERR_VELO_NOT_FOUND', `git repository ${repoPath}: ${e.message ?? 'not found'}`, {hint: 'check the revision with git log, or git fsck the repository', cause: err})
  }
  if (e?.code === 'UnsafeFilepathError') {
    return new VeloError('ERR_VELO_UNSAFE_PATH', `git repository ${repoPath} has an unsafe entry name: ${e.message ?? ''}`, {hint: 'the repository is damaged or hostile; git fsck shows it', cause: err})
  }
  return new VeloError('ERR_VELO_CORRUPT', `git repository ${repoPath}: ${doing} failed: ${e?.message ?? String(err)}`, {hint: 'check the repository with git fsck', cause: err})
}
