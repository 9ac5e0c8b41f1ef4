/**
 * Walks the object graph from roots (snapshot -> tree + parents, tree -> entries, chunk list ->
 * chunks) and marks each reached object at the first pack that holds it. gc keeps what is marked,
 * fsck reports what is missing or unreadable with the path that leads to it, `gc --explain` and
 * repack use the visiting order.
 *
 * Tuned for gc on large trees: every object read is verified (PackStore.read), but tree entries are
 * parsed straight from the bytes (ids stay 32-byte views, hex only for the hooks) and paths are
 * built only when asked for.
 */
import type {Oid} from '../objects/oid.js'
import {decodeChunkList} from '../objects/chunkList.js'
import {decodeSnapshot} from '../objects/snapshot.js'
import {TREE_MAGIC} from '../objects/tree.js'
import {ObjectType} from '../pack/block.js'
import {TYPE_NAMES, type LoadedPack, type PackStore} from '../store/PackStore.js'
import {ByteReader} from '../util/varint.js'

export type RootKind = 'ref' | 'reflog' | 'mount' | 'lease' | 'young' | 'given'

export interface Root {
  kind: RootKind
  /** Ref name, "NAME@{time}" for a reflog entry, the mount or lease file, the pack for young objects. */
  name: string
  id: Oid
}

/** How an object was reached: from which root, through which snapshot and path. */
export interface Via {
  root: Root
  snapshot?: Oid
  /** Path below the snapshot's tree ('' for the tree itself); "(parent N)" hops are spelled out. */
  readonly path: string
}

/** A Via whose path is put together only when read. */
class Hop implements Via {
  constructor(
    readonly root: Root,
    readonly snapshot: Oid | undefined,
    private readonly parent?: Hop,
    /** A path segment (UTF-8 bytes of a tree entry name) or a literal suffix. */
    private readonly step?: Uint8Array | string,
  ) {}

  get path(): string {
    if (this.step === undefined) return this.parent?.path ?? ''
    const base = this.parent?.path ?? ''
    if (typeof this.step === 'string') return `${base}${base ? ' ' : ''}${this.step}`
    const name = Buffer.from(this.step.buffer, this.step.byteOffset, this.step.length).toString('utf8')
    return base ? `${base}/${name}` : name
  }
}

export type Expect = 'snapshot' | 'tree' | 'file' | 'chunk' | 'any'

export interface WalkHooks {
  /** The object is in no pack. */
  onMissing?(id: Oid, expect: Expect, via: Via): void
  /** The object is there but cannot be read, fails verification or has the wrong type. */
  onDamaged?(id: Oid, message: string, via: Via): void
  /** Called once per object, when first reached. */
  onVisit?(id: Oid, type: number, via: Via): void
}

export function describeVia(v: Via): string {
  const root = v.root.kind === 'ref' ? `ref ${v.root.name}` : `${v.root.kind} ${v.root.name}`
  if (!v.snapshot) return root
  const path = v.path
  return `${root}: snapshot ${v.snapshot.slice(0, 12)}${path ? `, path ${path}` : ''}`
}

const EXPECT_TYPES: Record<Expect, number[] | undefined> = {
  snapshot: [ObjectType.snapshot],
  tree: [ObjectType.tree],
  file: [ObjectType.blob, ObjectType.chunkList],
  chunk: [ObjectType.blob],
  any: undefined,
}

const hexIdRe = /[0-9a-f]{64}/g
const KIND_SYMLINK = 3
const KIND_DIR = 4

interface Item {
  id: Buffer
  expect: Expect
  via: Hop
}

const hex = (id: Buffer): Oid => id.toString('hex') as Oid

/** Already verified bytes of the object at `pos` of `pack` (fsck), or undefined to read it from the store. */
export type ObjectSource = (pack: LoadedPack, pos: number) => Buffer | undefined

export class ObjectGraph {
  readonly marks = new Map<LoadedPack, Uint8Array>()
  visited = 0

  constructor(
    readonly store: PackStore,
    private readonly source?: ObjectSource,
  ) {
    store.refresh()
    for (const p of store.packs) this.marks.set(p, new Uint8Array(p.index.count))
  }

  /** The first pack holding `id` and the position there. */
  locate(id: Uint8Array): {pack: LoadedPack; pos: number} | undefined {
    for (const pack of this.store.packs) {
      const pos = pack.index.find(id)
      if (pos >= 0) return {pack, pos}
    }
    return undefined
  }

  isMarked(pack: LoadedPack, pos: number): boolean {
    return this.marks.get(pack)![pos] === 1
  }

  /** Marks everything reachable from `roots`. */
  walk(roots: Root[], hooks: WalkHooks = {}): void {
    const stack: Item[] = []
    for (let i = roots.length - 1; i >= 0; i--) {
      const r = roots[i]
      stack.push({id: Buffer.from(r.id, 'hex'), expect: 'any', via: new Hop(r, undefined)})
    }
    while (stack.length > 0) {
      const it = stack.pop()!
      const loc = this.locate(it.id)
      if (!loc) {
        hooks.onMissing?.(hex(it.id), it.expect, it.via)
        continue
      }
      const m = this.marks.get(loc.pack)!
      if (m[loc.pos]) continue
      m[loc.pos] = 1
      this.visited++
      const type = loc.pack.index.typeAt(loc.pos)
      const allowed = EXPECT_TYPES[it.expect]
      if (allowed && !allowed.includes(type)) {
        hooks.onDamaged?.(hex(it.id), `it is a ${TYPE_NAMES[type] ?? `type ${type} object`} where a ${it.expect} was expected`, it.via)
        continue
      }
      hooks.onVisit?.(hex(it.id), type, it.via)
      if (type === ObjectType.blob) continue
      try {
        this.expand(it, type, stack, this.source?.(loc.pack, loc.pos))
      } catch (err) {
        hooks.onDamaged?.(hex(it.id), (err as Error).message, it.via)
      }
    }
  }

  private expand(it: Item, type: number, stack: Item[], known?: Buffer): void {
    const oid = hex(it.id)
    const data = known ?? this.store.read(oid, type).data
    const {root} = it.via
    if (type === ObjectType.snapshot) {
      const s = decodeSnapshot(data, `snapshot ${oid}`)
      for (let i = s.parents.length - 1; i >= 0; i--) {
        stack.push({id: Buffer.from(s.parents[i], 'hex'), expect: 'snapshot', via: new Hop(root, oid, undefined, `(parent ${i + 1})`)})
      }
      stack.push({id: Buffer.from(s.tree, 'hex'), expect: 'tree', via: new Hop(root, oid)})
    } else if (type === ObjectType.tree) {
      this.expandTree(it, data, stack)
    } else if (type === ObjectType.chunkList) {
      const {chunks} = decodeChunkList(data, `chunk list ${oid}`)
      for (let i = chunks.length - 1; i >= 0; i--) {
        stack.push({id: Buffer.from(chunks[i].id, 'hex'), expect: 'chunk', via: new Hop(root, it.via.snapshot, it.via, `(chunk ${i + 1})`)})
      }
    } else if (type === ObjectType.run) {
      // Run records: any object id they mention is kept (input, output, previous, stdout, ...).
      const text = data.toString('latin1')
      for (const m of text.match(hexIdRe) ?? []) {
        const id = Buffer.from(m, 'hex')
        if (this.locate(id)) stack.push({id, expect: 'any', via: it.via})
      }
    }
  }

  /** Tree layout (src/objects/tree.ts): "VTR1" count, then kind, name, size and id (or link target). */
  private expandTree(it: Item, data: Buffer, stack: Item[]): void {
    if (data.length < 5 || !data.subarray(0, 4).equals(TREE_MAGIC)) throw new RangeError(`tree ${hex(it.id)}: bad magic`)
    const r = new ByteReader(data, `tree ${hex(it.id)}`)
    r.pos = 4
    const count = r.varint()
    const start = stack.length
    for (let i = 0; i < count; i++) {
      const kind = r.u8()
      if (kind < 1 || kind > 4) r.fail(`unknown entry kind ${kind}`)
      const name = r.bytes(r.varint())
      if (kind === KIND_SYMLINK) {
        r.bytes(r.varint())
        continue
      }
      r.varint()
      const id = r.bytes(32)
      // Copies (the bytes belong to a cached block): 32 bytes for the id, the name for its path.
      stack.push({id: Buffer.from(id), expect: kind === KIND_DIR ? 'tree' : 'file', via: new Hop(it.via.root, it.via.snapshot, it.via, Buffer.from(name))})
    }
    if (r.remaining !== 0) r.fail('trailing bytes')
    // Depth-first in name order: the first entry must come off the stack first.
    for (let a = start, b = stack.length - 1; a < b; a++, b--) {
      const t = stack[a]
      stack[a] = stack[b]
      stack[b] = t
    }
  }
}
