/**
 * Errors a user can reach are VeloErrors: a stable code, an exit code, a one-line message and a hint
 * saying what to do. Plain Errors are bugs (exit 1, stack shown with VELO_DEBUG=1).
 * The table of codes is documented in docs/exit-codes.md.
 */
export const ExitCode = {
  ok: 0,
  bug: 1,
  usage: 2,
  partial: 3,
  notARepo: 10,
  locked: 11,
  refConflict: 12,
  corrupt: 13,
  remote: 14,
  mountUnavailable: 15,
  notFound: 16,
  ioError: 17,
  diskFull: 18,
  permission: 19,
  /** velo replay: the replayed run differs from the record. */
  mismatch: 20,
  /** velo run/replay: the command exists but cannot be executed (as shells). */
  notExecutable: 126,
  /** velo run/replay: the command was not found (as shells). */
  commandNotFound: 127,
  interrupted: 130,
} as const

export type ErrorCode =
  | 'ERR_VELO_USAGE'
  | 'ERR_VELO_PARTIAL'
  | 'ERR_VELO_NOT_A_REPO'
  | 'ERR_VELO_REPO_EXISTS'
  | 'ERR_VELO_LOCKED'
  | 'ERR_VELO_REF_CONFLICT'
  | 'ERR_VELO_NOT_FAST_FORWARD'
  | 'ERR_VELO_CORRUPT'
  | 'ERR_VELO_REMOTE'
  | 'ERR_VELO_MOUNT_UNAVAILABLE'
  | 'ERR_VELO_MOUNT'
  | 'ERR_VELO_MOUNT_BUSY'
  | 'ERR_VELO_NOT_FOUND'
  | 'ERR_VELO_AMBIGUOUS'
  | 'ERR_VELO_BAD_REF_NAME'
  | 'ERR_VELO_UNREADABLE'
  | 'ERR_VELO_CHANGED_WHILE_READING'
  | 'ERR_VELO_IO'
  | 'ERR_VELO_DISK_FULL'
  | 'ERR_VELO_PERMISSION'
  | 'ERR_VELO_TARGET_NOT_EMPTY'
  | 'ERR_VELO_UNSAFE_PATH'
  | 'ERR_VELO_INTERRUPTED'
  | 'ERR_VELO_MISMATCH'
  | 'ERR_VELO_COMMAND_NOT_FOUND'
  | 'ERR_VELO_COMMAND_NOT_EXECUTABLE'
  | 'ERR_VELO_INSTALL_FAILED'

const exitFor: Record<ErrorCode, number> = {
  ERR_VELO_USAGE: ExitCode.usage,
  ERR_VELO_PARTIAL: ExitCode.partial,
  ERR_VELO_NOT_A_REPO: ExitCode.notARepo,
  ERR_VELO_REPO_EXISTS: ExitCode.usage,
  ERR_VELO_LOCKED: ExitCode.locked,
  ERR_VELO_REF_CONFLICT: ExitCode.refConflict,
  ERR_VELO_NOT_FAST_FORWARD: ExitCode.refConflict,
  ERR_VELO_CORRUPT: ExitCode.corrupt,
  ERR_VELO_REMOTE: ExitCode.remote,
  ERR_VELO_MOUNT_UNAVAILABLE: ExitCode.mountUnavailable,
  ERR_VELO_MOUNT: ExitCode.mountUnavailable,
  ERR_VELO_MOUNT_BUSY: ExitCode.mountUnavailable,
  ERR_VELO_NOT_FOUND: ExitCode.notFound,
  ERR_VELO_AMBIGUOUS: ExitCode.notFound,
  ERR_VELO_BAD_REF_NAME: ExitCode.usage,
  ERR_VELO_UNREADABLE: ExitCode.ioError,
  ERR_VELO_CHANGED_WHILE_READING: ExitCode.ioError,
  ERR_VELO_IO: ExitCode.ioError,
  ERR_VELO_DISK_FULL: ExitCode.diskFull,
  ERR_VELO_PERMISSION: ExitCode.permission,
  ERR_VELO_TARGET_NOT_EMPTY: ExitCode.usage,
  ERR_VELO_UNSAFE_PATH: ExitCode.corrupt,
  ERR_VELO_INTERRUPTED: ExitCode.interrupted,
  ERR_VELO_MISMATCH: ExitCode.mismatch,
  ERR_VELO_COMMAND_NOT_FOUND: ExitCode.commandNotFound,
  ERR_VELO_COMMAND_NOT_EXECUTABLE: ExitCode.notExecutable,
  /** velo deps: the install command failed; the error's exitCode is the command's (withExitCode). */
  ERR_VELO_INSTALL_FAILED: ExitCode.bug,
}

export interface VeloErrorOptions {
  hint?: string
  data?: Record<string, unknown>
  cause?: unknown
}

export class VeloError extends Error {
  readonly code: ErrorCode
  readonly exitCode: number
  readonly hint?: string
  readonly data?: Record<string, unknown>

  constructor(code: ErrorCode, message: string, options: VeloErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'VeloError'
    this.code = code
    this.exitCode = exitFor[code]
    this.hint = options.hint
    this.data = options.data
  }

  /** The same error exiting with `code` (a failed command's own exit code). */
  withExitCode(code: number): this {
    ;(this as {exitCode: number}).exitCode = code
    return this
  }

  toJSON(): {code: string; message: string; hint?: string; data?: Record<string, unknown>} {
    return {code: this.code, message: this.message, hint: this.hint, data: this.data}
  }
}

export function isErrno(err: unknown, ...codes: string[]): err is NodeJS.ErrnoException {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '')
}

/** Turns an fs error on `path` into a VeloError a user understands; other errors pass through. */
export function fsError(err: unknown, path: string, doing: string): unknown {
  if (isErrno(err, 'ENOSPC', 'EDQUOT')) {
    return new VeloError('ERR_VELO_DISK_FULL', `disk full while ${doing} ${path}`, {
      hint: 'free some space and run the command again; nothing already stored was changed',
      cause: err,
    })
  }
  if (isErrno(err, 'EACCES', 'EPERM')) {
    return new VeloError('ERR_VELO_PERMISSION', `permission denied while ${doing} ${path}`, {
      hint: 'check the ownership and mode of that path',
      cause: err,
    })
  }
  if (isErrno(err, 'EROFS')) {
    return new VeloError('ERR_VELO_PERMISSION', `read-only filesystem while ${doing} ${path}`, {cause: err})
  }
  return err
}

/** Normalises anything thrown into the shape printed to users and to --json. */
export function toUserError(err: unknown): VeloError {
  if (err instanceof VeloError) return err
  const mapped = fsError(err, (err as NodeJS.ErrnoException)?.path ?? '', 'accessing')
  if (mapped instanceof VeloError) return mapped
  if (isErrno(err, 'ENOENT')) {
    const e = err as NodeJS.ErrnoException
    return new VeloError('ERR_VELO_NOT_FOUND', `no such file or directory: ${e.path ?? ''}`, {cause: err})
  }
  if (isErrno(err, 'EIO')) {
    return new VeloError('ERR_VELO_IO', `I/O error: ${(err as Error).message}`, {cause: err})
  }
  const e = new VeloError('ERR_VELO_IO', (err as Error)?.message ?? String(err), {cause: err})
  ;(e as {exitCode: number}).exitCode = ExitCode.bug
  return e
}
