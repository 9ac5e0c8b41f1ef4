/** Path rules for names read from archives: what is safe, and what a link target resolves to. */
import {isSafeName} from '../objects/names.js'
import {VeloError} from '../util/errors.js'

function unsafe(message: string, hint = 'the archive is damaged or hostile; velo imported nothing'): VeloError {
  return new VeloError('ERR_VELO_UNSAFE_PATH', message, {hint})
}

/**
 * Splits an archive member name into path components, dropping `.` and empty components
 * (`./a//b/` is `a/b`). Rejects absolute names and any `..` component. `[]` is the root itself.
 */
export function splitArchivePath(name: string, what = 'entry'): string[] {
  if (name.startsWith('/')) throw unsafe(`${what} ${JSON.stringify(name)} has an absolute path`)
  const parts: string[] = []
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue
    if (p === '..') throw unsafe(`${what} ${JSON.stringify(name)} climbs out of the archive with ..`)
    if (!isSafeName(p)) throw unsafe(`${what} ${JSON.stringify(name)} has an unsafe name`)
    parts.push(p)
  }
  return parts
}

/**
 * Resolves a symlink target lexically against the link's directory (components from the root).
 * Returns the components of the result, or undefined when the target is absolute or climbs above
 * the root. (Symlinks met on the way are resolved by the caller; see LayerTree.)
 */
export function resolveLexically(dir: readonly string[], target: string): string[] | undefined {
  if (target.startsWith('/')) return undefined
  const out = [...dir]
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue
    if (p === '..') {
      if (out.length === 0) return undefined
      out.pop()
    } else out.push(p)
  }
  return out
}

export const WHITEOUT_PREFIX = '.wh.'
export const OPAQUE_MARKER = '.wh..wh..opq'
