import {basename} from 'node:path'
import {hash} from '../objects/hash.js'

/**
 * The ref a snapshot of `absDir` goes to when no --ref is given: the directory's base name (with
 * characters outside [A-Za-z0-9._-] replaced by '-') and the first 8 hex digits of the BLAKE3 of
 * its absolute real path, e.g. node_modules-3f2a9c1d. Stable for a path, distinct across paths.
 */
export function refNameFor(absDir: string): string {
  let base = basename(absDir).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '').replace(/\.+$/, '')
  base = base.replace(/\.\.+/g, '.')
  if (base === '') base = 'root'
  return `${base}-${hash(Buffer.from(absDir)).toString('hex').slice(0, 8)}`
}

export function statCacheName(absDir: string): string {
  return hash(Buffer.from(absDir)).toString('hex').slice(0, 32)
}
