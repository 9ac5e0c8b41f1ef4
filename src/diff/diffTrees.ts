/**
 * Compares two trees, skipping identical subtrees by id (as git's tree diff). Statuses follow
 * `git diff --name-status`: A added, M modified (content or executable bit), D deleted,
 * T type changed (file <-> symlink). A directory replaced by a file (or the reverse) shows as the
 * deletions and additions of the paths below it. Empty directories show with a trailing '/'.
 */
import {compareNames} from '../objects/names.js'
import type {Oid} from '../objects/oid.js'
import type {TreeEntry} from '../objects/tree.js'

export type ChangeStatus = 'A' | 'M' | 'D' | 'T'

export interface Change {
  status: ChangeStatus
  path: string
  oldKind?: string
  newKind?: string
  oldSize?: number
  newSize?: number
}

export type TreeReader = (oid: Oid) => TreeEntry[]

export function diffTrees(read: TreeReader, a: Oid | null, b: Oid | null, prefix = ''): Change[] {
  const out: Change[] = []
  walk(read, a, b, prefix, out)
  return out
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix}/${name}` : name
}

function walk(read: TreeReader, a: Oid | null, b: Oid | null, prefix: string, out: Change[]): void {
  if (a === b) return
  const ea = a ? read(a) : []
  const eb = b ? read(b) : []
  let i = 0
  let j = 0
  while (i < ea.length || j < eb.length) {
    const c = i >= ea.length ? 1 : j >= eb.length ? -1 : compareNames(ea[i].name, eb[j].name)
    if (c < 0) {
      side(read, ea[i++], prefix, 'D', out)
    } else if (c > 0) {
      side(read, eb[j++], prefix, 'A', out)
    } else {
      const x = ea[i++]
      const y = eb[j++]
      const path = join(prefix, x.name)
      if (x.kind === 'dir' && y.kind === 'dir') {
        walk(read, x.id, y.id, path, out)
      } else if (x.kind === 'dir' || y.kind === 'dir') {
        side(read, x, prefix, 'D', out)
        side(read, y, prefix, 'A', out)
      } else if ((x.kind === 'symlink') !== (y.kind === 'symlink')) {
        out.push({status: 'T', path, oldKind: x.kind, newKind: y.kind, oldSize: x.size, newSize: y.size})
      } else if (x.id !== y.id || x.kind !== y.kind) {
        out.push({status: 'M', path, oldKind: x.kind, newKind: y.kind, oldSize: x.size, newSize: y.size})
      }
    }
  }
}

function side(read: TreeReader, e: TreeEntry, prefix: string, status: 'A' | 'D', out: Change[]): void {
  const path = join(prefix, e.name)
  if (e.kind === 'dir') {
    const children = read(e.id)
    if (children.length === 0) {
      out.push(status === 'A' ? {status, path: path + '/', newKind: 'dir', newSize: 0} : {status, path: path + '/', oldKind: 'dir', oldSize: 0})
      return
    }
    for (const c of children) side(read, c, path, status, out)
    return
  }
  out.push(status === 'A' ? {status, path, newKind: e.kind, newSize: e.size} : {status, path, oldKind: e.kind, oldSize: e.size})
}
