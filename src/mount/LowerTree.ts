/**
 * The read-only lower layer's metadata: a snapshot's trees, decoded lazily one directory at a
 * time (the first lookup in a directory reads its tree) and kept in memory, so names, kinds,
 * sizes and symlink targets are answered without reading file data.
 */
import {compareNames} from '../objects/names.js'
import type {Oid} from '../objects/oid.js'
import type {TreeEntry} from '../objects/tree.js'

export type ReadTree = (oid: Oid) => TreeEntry[]

export class LowerTree {
  private readonly dirs = new Map<Oid, TreeEntry[]>()

  constructor(
    readonly rootId: Oid,
    private readonly readTree: ReadTree,
  ) {}

  /** Entries of a directory tree, sorted by name. */
  entries(id: Oid): TreeEntry[] {
    let e = this.dirs.get(id)
    if (!e) {
      e = this.readTree(id)
      this.dirs.set(id, e)
    }
    return e
  }

  /** The entry `name` of directory tree `id` (binary search: entries are sorted). */
  entry(id: Oid, name: string): TreeEntry | undefined {
    const e = this.entries(id)
    let lo = 0
    let hi = e.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const c = compareNames(e[mid].name, name)
      if (c === 0) return e[mid]
      if (c < 0) lo = mid + 1
      else hi = mid - 1
    }
    return undefined
  }

  /** Tree id of the directory at `path` ('' is the root; no leading slash), if it is one. */
  dirAt(path: string): Oid | undefined {
    let id = this.rootId
    if (path === '') return id
    for (const name of path.split('/')) {
      const e = this.entry(id, name)
      if (!e || e.kind !== 'dir') return undefined
      id = e.id
    }
    return id
  }

  /** Number of directories decoded so far. */
  get loadedDirs(): number {
    return this.dirs.size
  }
}
