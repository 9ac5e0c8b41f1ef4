import {basename} from 'node:path'
import {hash} from '../objects/hash.js'

/** How a directory's default ref is named (the `ref.naming` setting, see src/repo/settings.ts). */
export type RefNaming = 'name-hash' | 'name' | 'path'

function segment(s: string): string {
  let base = s.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '').replace(/\.+$/, '')
  base = base.replace(/\.\.+/g, '.')
  if (base.endsWith('.lock')) base += '_'
  return base
}

/**
 * The ref a snapshot of `absDir` goes to when no --ref is given. By default (`name-hash`) the
 * directory's base name (with characters outside [A-Za-z0-9._-] replaced by '-') and the first 8
 * hex digits of the BLAKE3 of its absolute real path, e.g. node_modules-3f2a9c1d: stable for a
 * path, distinct across paths. `name` is the base name alone (node_modules); `path` the absolute
 * path as a ref (home/me/app/node_modules), falling back to name-hash when that is not a valid ref.
 */
export function refNameFor(absDir: string, naming: RefNaming = 'name-hash'): string {
  const base = segment(basename(absDir)) || 'root'
  if (naming === 'name') return base
  if (naming === 'path') {
    const parts = absDir.split('/').filter(Boolean).map(segment)
    const name = parts.join('/')
    if (parts.length > 0 && parts.every(Boolean) && Buffer.byteLength(name) <= 200) return name
  }
  return `${base}-${hash(Buffer.from(absDir)).toString('hex').slice(0, 8)}`
}

export function statCacheName(absDir: string): string {
  return hash(Buffer.from(absDir)).toString('hex').slice(0, 32)
}
