/**
 * The tree of a mount as it is now, built from the lower snapshot's trees and the upper layer on
 * disk, reading only what changed: directories without an upper counterpart keep their lower tree
 * id (not even read), lower entries are reused by id, and only upper files are hashed. The upper
 * directory is read directly (never through the mount), so this runs in any process.
 */
import {type Dirent, lstatSync, readFileSync, readdirSync, readlinkSync} from 'node:fs'
import {join} from 'node:path'
import {hash} from '../objects/hash.js'
import {compareNames} from '../objects/names.js'
import type {Oid} from '../objects/oid.js'
import {encodeTree, type EntryKind, type TreeEntry} from '../objects/tree.js'
import type {IngestPool} from '../snapshot/IngestPool.js'
import {VeloError, fsError} from '../util/errors.js'
import {OPAQUE_MARKER, REDIRECT_MARKER, WH_PREFIX} from './Layer.js'

export interface OverlayTreeOptions {
  readTree: (oid: Oid) => TreeEntry[]
  /** Root tree of the lower snapshot. */
  base: Oid
  /** The layer's root/ directory. */
  upperRoot: string
  pool: IngestPool
  has: (id: Uint8Array) => boolean
  /** Stores a new tree object. */
  writeTree: (id: Uint8Array, bytes: Buffer) => void
  onWarning?: (msg: string) => void
}

export interface OverlayTreeResult {
  tree: Oid
  /** Total content bytes of the tree. */
  size: number
  /** Upper files, directories and symlinks read. */
  upperFiles: number
  upperDirs: number
  upperSymlinks: number
  hashedBytes: number
}

interface Ent {
  name: string
  kind: EntryKind
  size: number
  id: Oid
  target?: string
  dir?: Dir
  failed?: {code: string; message: string}
}

interface Dir {
  entries: Map<string, Ent>
}

export async function overlayTree(o: OverlayTreeOptions): Promise<OverlayTreeResult> {
  const res: OverlayTreeResult = {tree: '' as Oid, size: 0, upperFiles: 0, upperDirs: 0, upperSymlinks: 0, hashedBytes: 0}
  const errors: {path: string; code: string; message: string}[] = []
  /** Upper-layer files waiting for their ids, by pool index. */
  const queued: {index: number; ent: Ent; path: string}[] = []

  const lowerDirAt = (path: string): Oid | undefined => {
    let id = o.base
    if (path === '') return id
    for (const name of path.split('/')) {
      const e = o.readTree(id).find((x) => x.name === name)
      if (!e || e.kind !== 'dir') return undefined
      id = e.id
    }
    return id
  }

  const walk = (abs: string, lowerTree: Oid | undefined): Dir => {
    res.upperDirs++
    let ents: Dirent[]
    try {
      ents = readdirSync(abs, {withFileTypes: true})
    } catch (err) {
      throw fsError(err, abs, 'reading')
    }
    let opaque = false
    let redirect: string | undefined
    const whiteouts = new Set<string>()
    const upper: Dirent[] = []
    for (const d of ents) {
      if (d.name === OPAQUE_MARKER) opaque = true
      else if (d.name === REDIRECT_MARKER) redirect = readFileSync(join(abs, d.name), 'utf8')
      else if (d.name.startsWith(WH_PREFIX)) whiteouts.add(d.name.slice(WH_PREFIX.length))
      else upper.push(d)
    }
    const lower = opaque ? undefined : redirect !== undefined ? lowerDirAt(redirect) : lowerTree
    const dir: Dir = {entries: new Map()}
    const lowerEntries = lower ? o.readTree(lower) : []
    for (const e of lowerEntries) if (!whiteouts.has(e.name)) dir.entries.set(e.name, {...e})
    for (const d of upper) {
      const p = join(abs, d.name)
      if (d.isDirectory()) {
        const le = dir.entries.get(d.name)
        const child = walk(p, le?.kind === 'dir' ? le.id : undefined)
        dir.entries.set(d.name, {name: d.name, kind: 'dir', size: 0, id: '' as Oid, dir: child})
      } else if (d.isSymbolicLink()) {
        res.upperSymlinks++
        const target = readlinkSync(p)
        dir.entries.set(d.name, {name: d.name, kind: 'symlink', size: Buffer.byteLength(target), id: '' as Oid, target})
      } else if (d.isFile()) {
        res.upperFiles++
        let st
        try {
          st = lstatSync(p)
        } catch (err) {
          throw fsError(err, p, 'reading')
        }
        const ent: Ent = {name: d.name, kind: st.mode & 0o100 ? 'exec' : 'file', size: st.size, id: '' as Oid}
        dir.entries.set(d.name, ent)
        queued.push({index: o.pool.add(p, st.size), ent, path: p})
      } else {
        o.onWarning?.(`skipped ${p}: ${d.isSocket() ? 'socket' : d.isFIFO() ? 'FIFO' : 'device'} files cannot be stored`)
      }
    }
    return dir
  }

  const root = walk(o.upperRoot, o.base)
  await o.pool.drain()
  for (const {index, ent, path} of queued) {
    const error = o.pool.error(index)
    if (error) {
      ent.failed = error
      errors.push({path, ...error})
      continue
    }
    const at = o.pool.idOffset(index)
    ent.id = Buffer.from(o.pool.idBuffer(index).subarray(at, at + 32)).toString('hex') as Oid
    ent.size = o.pool.size(index)
    res.hashedBytes += ent.size
  }
  if (errors.length > 0) {
    const first = errors[0]
    throw new VeloError(first.code === 'ECHANGED' ? 'ERR_VELO_CHANGED_WHILE_READING' : 'ERR_VELO_UNREADABLE', `cannot read ${first.path} in the upper layer: ${first.message}`, {
      hint: 'run the snapshot again when nothing writes to the mount',
      data: {errors: errors.slice(0, 20)},
    })
  }

  const written = new Set<string>()
  const build = (dir: Dir): {id: Oid; size: number} => {
    const list = [...dir.entries.values()].sort((a, b) => compareNames(a.name, b.name))
    let size = 0
    const tes: TreeEntry[] = []
    for (const e of list) {
      if (e.dir) {
        const t = build(e.dir)
        e.id = t.id
        e.size = t.size
      }
      if (e.kind !== 'symlink') size += e.size
      tes.push(e.kind === 'symlink' ? {name: e.name, kind: e.kind, size: e.size, id: e.id, target: e.target} : {name: e.name, kind: e.kind, size: e.size, id: e.id})
    }
    const bytes = encodeTree(tes)
    const id = hash(bytes)
    const hex = id.toString('hex') as Oid
    if (!written.has(hex) && !o.has(id)) o.writeTree(id, bytes)
    written.add(hex)
    return {id: hex, size}
  }
  const top = build(root)
  res.tree = top.id
  res.size = top.size
  return res
}
