import {describe, expect, it} from 'vitest'
import {hash} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import type {TreeEntry} from '../objects/tree.js'
import {LayerTree} from './LayerTree.js'

const id = (s: string): Oid => hash(Buffer.from(s)).toString('hex') as Oid

/** Trees in memory: writeTree stores entries under a fake id, readTree returns them. */
function store(): {trees: Map<Oid, TreeEntry[]>; write: (e: TreeEntry[]) => Oid; read: (t: Oid) => TreeEntry[]} {
  const trees = new Map<Oid, TreeEntry[]>()
  return {
    trees,
    write: (e) => {
      const t = id(JSON.stringify(e))
      trees.set(t, e)
      return t
    },
    read: (t) => trees.get(t)!,
  }
}

function file(layer: LayerTree, path: string, content = path): void {
  const n = layer.addFile(path.split('/'), false)
  n.id = id(content)
  n.size = content.length
}

/** Flattened listing of a written tree: "path kind". */
function list(s: ReturnType<typeof store>, root: Oid, prefix = ''): string[] {
  return s.read(root).flatMap((e) => [`${prefix}${e.name} ${e.kind}`, ...(e.kind === 'dir' ? list(s, e.id, `${prefix}${e.name}/`) : [])])
}

describe('LayerTree', () => {
  it('implies parent directories, sums sizes, sorts entries', () => {
    const s = store()
    const l = new LayerTree({readTree: s.read})
    file(l, 'b/c', 'xyz')
    file(l, 'a', 'q')
    l.addDir(['b'])
    l.addSymlink(['b', 'l'], 'c')
    l.finish()
    const root = l.write(s.write)
    expect(root.size).toBe(4)
    expect(list(s, root.id)).toEqual(['a file', 'b dir', 'b/c file', 'b/l symlink'])
  })

  it('refuses duplicates, entries below symlinks or files, and escaping links', () => {
    const s = store()
    const dup = new LayerTree({readTree: s.read})
    file(dup, 'x')
    expect(() => file(dup, 'x')).toThrow(/duplicate entry x/)
    const below = new LayerTree({readTree: s.read})
    below.addSymlink(['l'], '/tmp')
    expect(() => file(below, 'l/x')).toThrow(/goes through the symlink l/)
    const esc = new LayerTree({readTree: s.read})
    esc.addSymlink(['d', 'up'], '..')
    esc.addSymlink(['e'], 'd/up/d/up/..')
    expect(() => esc.finish()).toThrow(/symlink e points outside/)
  })

  it('merges onto a base: whiteouts delete, opaque directories hide, entries replace', () => {
    const s = store()
    const base0 = new LayerTree({readTree: s.read})
    for (const p of ['keep/a', 'keep/gone', 'opq/old', 'rm', 'over']) file(base0, p)
    base0.finish()
    const base = base0.write(s.write).id
    const l = new LayerTree({base, readTree: s.read})
    l.addWhiteout(['keep', '.wh.gone'])
    l.addWhiteout(['opq', '.wh..wh..opq'])
    file(l, 'opq/new')
    l.addWhiteout(['.wh.rm'])
    file(l, 'over', 'new content')
    l.addWhiteout(['ghost', '.wh.nothing'])
    l.finish()
    const root = l.write(s.write)
    expect(list(s, root.id)).toEqual(['keep dir', 'keep/a file', 'opq dir', 'opq/new file', 'over file'])
    expect(l.whiteouts).toBe(4)
  })

  it('refuses whiteouts without a base', () => {
    const l = new LayerTree({readTree: () => []})
    expect(() => l.addWhiteout(['.wh.x'])).toThrow(expect.objectContaining({code: 'ERR_VELO_USAGE'}))
  })
})
