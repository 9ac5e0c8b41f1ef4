import {describe, expect, it} from 'vitest'
import {hash} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {encodeTree, type TreeEntry} from '../objects/tree.js'
import {compareNames} from '../objects/names.js'
import {diffTrees, type Change} from './diffTrees.js'

type Node = string | {exec: string} | {link: string} | {[name: string]: Node}

/** An in-memory object store of trees built from nested objects; counts the trees read. */
class Trees {
  private trees = new Map<string, TreeEntry[]>()
  reads: string[] = []

  add(spec: {[name: string]: Node}): Oid {
    const entries: TreeEntry[] = Object.keys(spec)
      .sort(compareNames)
      .map((name) => {
        const v = spec[name]
        if (typeof v === 'string') return {name, kind: 'file', size: v.length, id: hash(Buffer.from(v)).toString('hex') as Oid}
        if ('exec' in v && typeof v.exec === 'string') return {name, kind: 'exec', size: v.exec.length, id: hash(Buffer.from(v.exec)).toString('hex') as Oid}
        if ('link' in v && typeof v.link === 'string') {
          return {name, kind: 'symlink', size: v.link.length, id: hash(Buffer.from(v.link)).toString('hex') as Oid, target: v.link}
        }
        return {name, kind: 'dir', size: 0, id: this.add(v as {[name: string]: Node})}
      })
    const id = hash(encodeTree(entries)).toString('hex') as Oid
    this.trees.set(id, entries)
    return id
  }

  read = (oid: Oid): TreeEntry[] => {
    this.reads.push(oid)
    const t = this.trees.get(oid)
    if (!t) throw new Error(`no tree ${oid}`)
    return t
  }
}

const lines = (cs: Change[]): string[] => cs.map((c) => `${c.status}\t${c.path}`)

describe('diffTrees', () => {
  const big = Object.fromEntries(Array.from({length: 50}, (_, i) => [`f${i}`, `content ${i}`]))
  const base = {
    'a.txt': 'a',
    'b.txt': 'b',
    bin: {tool: {exec: '#!/bin/sh'}},
    lib: {deep: {deeper: big}},
    link: {link: 'a.txt'},
    same: {x: 'x'},
  }

  it('is empty for equal trees, without reading them', () => {
    const t = new Trees()
    const a = t.add(base)
    expect(diffTrees(t.read, a, t.add(structuredClone(base)))).toEqual([])
    expect(t.reads).toEqual([])
  })

  it('reports A, M, D and T with full paths, in path order', () => {
    const t = new Trees()
    const a = t.add(base)
    const {same: _dropped, ...rest} = base
    const b = t.add({
      ...rest,
      'a.txt': 'changed',
      'b.txt': {link: 'a.txt'},
      'c.txt': 'new',
      bin: {},
      lib: {deep: {deeper: {...big, f7: 'changed', 'new file': 'n'}}},
      link: {link: 'b.txt'},
    })
    expect(lines(diffTrees(t.read, a, b))).toEqual([
      'M\ta.txt',
      'T\tb.txt',
      'D\tbin/tool',
      'A\tc.txt',
      'M\tlib/deep/deeper/f7',
      'A\tlib/deep/deeper/new file',
      'M\tlink',
      'D\tsame/x',
    ])
  })

  it('treats an exec bit change as M and gives old and new kinds and sizes', () => {
    const t = new Trees()
    const [c] = diffTrees(t.read, t.add({run: 'echo'}), t.add({run: {exec: 'echo'}}))
    expect(c).toEqual({status: 'M', path: 'run', oldKind: 'file', newKind: 'exec', oldSize: 4, newSize: 4})
  })

  it('lists everything below an added or deleted directory, empty ones with a trailing /', () => {
    const t = new Trees()
    const a = t.add({keep: 'k'})
    const b = t.add({keep: 'k', d: {e: {}, f: 'f', g: {h: 'h'}}, empty: {}})
    expect(lines(diffTrees(t.read, a, b))).toEqual(['A\td/e/', 'A\td/f', 'A\td/g/h', 'A\tempty/'])
    expect(lines(diffTrees(t.read, b, a))).toEqual(['D\td/e/', 'D\td/f', 'D\td/g/h', 'D\tempty/'])
    expect(lines(diffTrees(t.read, null, a))).toEqual(['A\tkeep'])
  })

  it('shows a directory replaced by a file (and back) as deletions and additions', () => {
    const t = new Trees()
    const a = t.add({x: {inner: '1'}})
    const b = t.add({x: 'now a file'})
    expect(lines(diffTrees(t.read, a, b))).toEqual(['D\tx/inner', 'A\tx'])
    expect(lines(diffTrees(t.read, b, a))).toEqual(['D\tx', 'A\tx/inner'])
  })

  it('skips identical subtrees by id: only the changed path is read', () => {
    const t = new Trees()
    const wide = Object.fromEntries(Array.from({length: 30}, (_, i) => [`pkg${i}`, {index: `i${i}`, sub: {more: `m${i}`}}]))
    const a = t.add(wide)
    const b = t.add({...wide, pkg17: {index: 'i17', sub: {more: 'changed'}}})
    t.reads = []
    expect(lines(diffTrees(t.read, a, b))).toEqual(['M\tpkg17/sub/more'])
    expect(t.reads.length).toBe(6) // both roots, both pkg17, both pkg17/sub
  })

  it('orders names by UTF-8 bytes like the trees themselves', () => {
    const t = new Trees()
    const a = t.add({})
    const b = t.add({'é': '1', z: '2', Z: '3', '😀': '4', '\uffff': '5'})
    expect(lines(diffTrees(t.read, a, b)).map((l) => l.slice(2))).toEqual(['Z', 'z', 'é', '\uffff', '😀'])
  })
})
