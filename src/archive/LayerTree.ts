/**
 * The tree an archive describes, built entry by entry while the archive streams in, then merged
 * onto an optional base snapshot (an OCI layer on top of its lower layers), checked, and written
 * as velo trees. It enforces the archive rules velo promises:
 * - no absolute or `..` names (archivePath.ts), no duplicate entries;
 * - no entry below a symlink (`a -> /etc` then `a/passwd`), no entry below a file;
 * - hard links point to an entry earlier in the archive (or in the base), never outside;
 * - symlinks do not resolve outside the tree, following the tree's own symlinks on the way
 *   (unless allowOutsideSymlinks);
 * - OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) only with a base, where they delete from it.
 */
import {hash} from '../objects/hash.js'
import {compareNames} from '../objects/names.js'
import type {Oid} from '../objects/oid.js'
import type {TreeEntry} from '../objects/tree.js'
import {VeloError} from '../util/errors.js'
import {OPAQUE_MARKER, WHITEOUT_PREFIX, splitArchivePath} from './archivePath.js'

type NodeKind = 'dir' | 'file' | 'exec' | 'symlink' | 'hardlink'

export interface LayerNode {
  kind: NodeKind
  /** Archive path, for messages. */
  path: string
  size: number
  /** Content id (file, exec), BLAKE3 of the target (symlink); filled in once content is read. */
  id?: Oid
  target?: string
  /** Hard link: path components of the entry it names. */
  link?: string[]
  /** Directories: children; undefined while a directory of the base is not loaded (see lower). */
  children?: Map<string, LayerNode>
  /** The base entry this node stands for, unchanged so far. */
  lower?: TreeEntry
  /** The archive has an entry for this directory (not only entries below it). */
  explicit?: boolean
  opaque?: boolean
  whiteouts?: Set<string>
}

export interface LayerTreeOptions {
  /** Root tree of the base snapshot the archive is a layer of. */
  base?: Oid
  readTree: (id: Oid) => TreeEntry[]
  allowOutsideSymlinks?: boolean
}

const DEFAULT_HINT = 'the archive is damaged or hostile; nothing was imported'
const MAX_LINK_HOPS = 40

function unsafe(message: string, hint = DEFAULT_HINT): VeloError {
  return new VeloError('ERR_VELO_UNSAFE_PATH', message, {hint})
}

function join(parts: readonly string[], n = parts.length): string {
  return parts.slice(0, n).join('/')
}

export class LayerTree {
  readonly root: LayerNode = {kind: 'dir', path: '.', size: 0, children: new Map(), explicit: true}
  private readonly symlinks: {node: LayerNode; dir: string[]}[] = []
  private readonly hardlinks: LayerNode[] = []
  whiteouts = 0
  files = 0
  dirs = 0
  symlinkCount = 0

  constructor(private readonly o: LayerTreeOptions) {}

  /** The directory that holds parts[last], creating implied directories on the way. */
  private parentOf(parts: readonly string[]): LayerNode {
    let cur = this.root
    for (let i = 0; i < parts.length - 1; i++) {
      let next = cur.children!.get(parts[i])
      if (!next) {
        next = {kind: 'dir', path: join(parts, i + 1), size: 0, children: new Map()}
        cur.children!.set(parts[i], next)
        this.dirs++
      } else if (next.kind === 'symlink') {
        throw unsafe(`${join(parts)} goes through the symlink ${join(parts, i + 1)}`)
      } else if (next.kind !== 'dir') {
        throw unsafe(`${join(parts)} lies below ${join(parts, i + 1)}, which is not a directory in the archive`)
      }
      cur = next
    }
    return cur
  }

  private place(parts: readonly string[], node: LayerNode): LayerNode {
    if (parts.length === 0) throw unsafe(`the archive has a ${node.kind} entry for its root directory (${JSON.stringify(node.path)})`)
    const parent = this.parentOf(parts)
    const name = parts[parts.length - 1]
    const old = parent.children!.get(name)
    if (old) {
      if (old.kind === 'dir' && node.kind === 'dir' && !old.explicit) {
        old.explicit = true
        return old
      }
      throw unsafe(`duplicate entry ${join(parts)} in the archive`)
    }
    parent.children!.set(name, node)
    if (node.kind === 'dir') this.dirs++
    return node
  }

  addDir(parts: readonly string[]): void {
    if (parts.length === 0) return
    this.place(parts, {kind: 'dir', path: join(parts), size: 0, children: new Map(), explicit: true})
  }

  /** Reserves a file entry; its id and size are set once the content has been read. */
  addFile(parts: readonly string[], exec: boolean): LayerNode {
    this.files++
    return this.place(parts, {kind: exec ? 'exec' : 'file', path: join(parts), size: 0})
  }

  addSymlink(parts: readonly string[], target: string): void {
    if (target === '') throw unsafe(`symlink ${join(parts)} has an empty target`)
    this.symlinkCount++
    const node = this.place(parts, {kind: 'symlink', path: join(parts), size: Buffer.byteLength(target), target, id: hash(Buffer.from(target)).toString('hex') as Oid})
    this.symlinks.push({node, dir: parts.slice(0, -1)})
  }

  addHardlink(parts: readonly string[], linkname: string): void {
    const path = join(parts)
    if (linkname.startsWith('/') || linkname.split('/').includes('..')) {
      throw unsafe(`hard link ${path} points outside the archive (${JSON.stringify(linkname)})`)
    }
    const link = splitArchivePath(linkname, `target of hard link ${path}`)
    this.hardlinks.push(this.place(parts, {kind: 'hardlink', path, size: 0, link}))
  }

  /** True for names that are OCI whiteouts. */
  static isWhiteout(name: string): boolean {
    return name.startsWith(WHITEOUT_PREFIX)
  }

  addWhiteout(parts: readonly string[]): void {
    const path = join(parts)
    if (this.o.base === undefined) {
      throw new VeloError('ERR_VELO_USAGE', `the archive is an OCI layer with whiteouts (${path}); they delete files of the layers below it`, {
        hint: 'import the lower layers first, then this one on top with --base REV (velo applies the whiteouts), or remove the .wh. entries',
      })
    }
    const name = parts[parts.length - 1]
    const dir = parts.length > 1 ? this.parentOf(parts) : this.root
    this.whiteouts++
    if (name === OPAQUE_MARKER) {
      if (dir.opaque) throw unsafe(`duplicate entry ${path} in the archive`)
      dir.opaque = true
      return
    }
    const victim = name.slice(WHITEOUT_PREFIX.length)
    if (victim.startsWith(WHITEOUT_PREFIX)) {
      throw new VeloError('ERR_VELO_USAGE', `unsupported whiteout ${path} (aufs metadata)`, {hint: 'velo applies .wh.NAME and .wh..wh..opq whiteouts only'})
    }
    if (victim === '' || victim === '.' || victim === '..') throw unsafe(`whiteout ${path} names no entry`)
    dir.whiteouts ??= new Set()
    if (dir.whiteouts.has(victim)) throw unsafe(`duplicate entry ${path} in the archive`)
    // Applies to the base only: an entry NAME in this same archive stays (see merge).
    dir.whiteouts.add(victim)
  }

  /** Merges onto the base, resolves hard links and checks symlinks. Call once, after the last entry. */
  finish(): void {
    if (this.o.base !== undefined) this.merge(this.root, this.o.base)
    for (const h of this.hardlinks) this.resolveHardlink(h, 0)
    if (!this.o.allowOutsideSymlinks) {
      for (const {node, dir} of this.symlinks) {
        if (this.escapes(dir, node.target!)) {
          throw unsafe(`symlink ${node.path} points outside the archive (-> ${node.target})`, 'pass --allow-outside-symlinks to keep such symlinks as they are (velo never follows symlinks when it restores)')
        }
      }
    }
  }

  private fromLower(e: TreeEntry, path: string): LayerNode {
    return {kind: e.kind, path, size: e.size, id: e.id, target: e.target, lower: e}
  }

  /** Children of a directory, loading a base directory on first use. */
  private childrenOf(node: LayerNode): Map<string, LayerNode> {
    if (!node.children) {
      node.children = new Map()
      for (const e of this.o.readTree(node.lower!.id)) node.children.set(e.name, this.fromLower(e, `${node.path}/${e.name}`))
    }
    return node.children
  }

  private merge(node: LayerNode, lowerTree: Oid): void {
    if (node.opaque) return
    for (const e of this.o.readTree(lowerTree)) {
      if (node.whiteouts?.has(e.name)) continue
      const up = node.children!.get(e.name)
      const path = node === this.root ? e.name : `${node.path}/${e.name}`
      if (!up) {
        node.children!.set(e.name, this.fromLower(e, path))
      } else if (up.kind === 'dir') {
        if (e.kind === 'dir') {
          up.lower = e
          this.merge(up, e.id)
        }
        else if (!up.explicit) {
          throw unsafe(e.kind === 'symlink' ? `entries below ${path} go through a symlink of the base snapshot` : `entries below ${path} lie below a file of the base snapshot`)
        }
      }
      // Any other entry of the archive replaces the base's.
    }
  }

  /** The node at parts, or undefined; never follows symlinks. */
  private lookup(parts: readonly string[]): LayerNode | undefined {
    let cur: LayerNode = this.root
    for (let i = 0; i < parts.length; i++) {
      if (cur.kind !== 'dir') return undefined
      const next = this.childrenOf(cur).get(parts[i])
      if (!next) return undefined
      cur = next
    }
    return cur
  }

  private resolveHardlink(h: LayerNode, depth: number): void {
    if (h.kind !== 'hardlink') return
    const to = this.lookup(h.link!)
    const name = join(h.link!)
    if (!to) throw unsafe(`hard link ${h.path} points to ${name}, which is not in the archive${this.o.base ? ' or the base snapshot' : ''}`)
    if (to.kind === 'hardlink') {
      if (depth > MAX_LINK_HOPS) throw unsafe(`hard link ${h.path} is part of a loop of hard links`)
      this.resolveHardlink(to, depth + 1)
    }
    if (to.kind === 'dir') throw unsafe(`hard link ${h.path} points to the directory ${name}`)
    if (to.id === undefined) throw unsafe(`hard link ${h.path} points to ${name}, which is still being read`)
    h.kind = to.kind
    h.id = to.id
    h.size = to.size
    h.target = to.target
    if (to.kind === 'symlink') this.symlinks.push({node: h, dir: h.path.split('/').slice(0, -1)})
  }

  /**
   * True if following `target` from `dir` leaves the tree: resolves like the kernel would once the
   * tree is extracted, following the tree's own symlinks, `..` above the root being an escape.
   */
  private escapes(dir: readonly string[], target: string): boolean {
    if (target.startsWith('/')) return true
    const stack: string[] = [...dir]
    const nodes: (LayerNode | undefined)[] = []
    let cur: LayerNode | undefined = this.root
    for (const p of dir) {
      cur = cur && cur.kind === 'dir' ? this.childrenOf(cur).get(p) : undefined
      nodes.push(cur)
    }
    let pending = target.split('/')
    let hops = 0
    while (pending.length > 0) {
      const p = pending.shift()!
      if (p === '' || p === '.') continue
      if (p === '..') {
        if (stack.length === 0) return true
        stack.pop()
        nodes.pop()
        continue
      }
      const parent = stack.length === 0 ? this.root : nodes[nodes.length - 1]
      const node = parent && parent.kind === 'dir' ? this.childrenOf(parent).get(p) : undefined
      if (node?.kind === 'symlink') {
        if (++hops > MAX_LINK_HOPS) return false // a loop: it resolves nowhere
        if (node.target!.startsWith('/')) return true
        pending = [...node.target!.split('/'), ...pending]
        continue
      }
      stack.push(p)
      nodes.push(node)
    }
    return false
  }

  /** Writes the trees bottom-up through `writeTree`; returns the root tree's id and size. */
  write(writeTree: (entries: TreeEntry[]) => Oid): {id: Oid; size: number} {
    const rec = (node: LayerNode): {id: Oid; size: number} => {
      if (!node.children) return {id: node.lower!.id, size: node.lower!.size}
      const entries: TreeEntry[] = []
      let size = 0
      for (const [name, c] of node.children) {
        if (c.kind === 'dir') {
          // A directory implied only by whiteouts of entries the base does not have: nothing to keep.
          if (!c.explicit && !c.lower && c.children?.size === 0) continue
          const r = rec(c)
          entries.push({name, kind: 'dir', size: r.size, id: r.id})
          size += r.size
        } else if (c.kind === 'symlink') {
          entries.push({name, kind: 'symlink', size: c.size, id: c.id!, target: c.target})
        } else if (c.kind === 'hardlink' || c.id === undefined) {
          throw new Error(`LayerTree.write: ${c.path} was not resolved`)
        } else {
          entries.push({name, kind: c.kind, size: c.size, id: c.id})
          size += c.size
        }
      }
      entries.sort((a, b) => compareNames(a.name, b.name))
      return {id: writeTree(entries), size}
    }
    return rec(this.root)
  }
}
