/**
 * Errors of the overlay's file operations: a POSIX errno name, reported to the kernel as the
 * negative errno number (what fuse-native expects).
 */
import {constants} from 'node:os'

export type ErrnoName = keyof typeof constants.errno

export class FsError extends Error {
  constructor(
    readonly errnoName: ErrnoName,
    message?: string,
  ) {
    super(message ?? errnoName)
    this.name = 'FsError'
  }

  /** Negative errno, as the kernel wants it. */
  get negErrno(): number {
    return -constants.errno[this.errnoName]
  }
}

export const fsErr = (name: ErrnoName, message?: string): FsError => new FsError(name, message)

/** Negative errno for anything thrown: FsError, Node fs errors (which carry a negative errno), else EIO. */
export function toNegErrno(err: unknown): number {
  if (err instanceof FsError) return err.negErrno
  const e = err as NodeJS.ErrnoException
  if (typeof e?.code === 'string' && e.code in constants.errno) return -constants.errno[e.code as ErrnoName]
  if (typeof e?.errno === 'number' && e.errno < 0) return e.errno
  return -constants.errno.EIO
}
