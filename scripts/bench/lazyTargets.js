#!/usr/bin/env node
// What the lazy benchmark group reads (scripts/bench/groups/lazy.js), from a snapshot in a repository:
//   node scripts/bench/lazyTargets.js REPO REV
// prints JSON {deepest, package: {dir, files, bytes, compressed}}: the deepest file of the snapshot,
// and a package (a node_modules/<name> directory, nested node_modules excluded) of about 100 files
// not containing it. `compressed` is those files' share of the packs: each object counts for its
// part of its compressed block (length / block payload x block length), every object once.
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const [repoDir, rev] = process.argv.slice(2)
if (!repoDir || !rev) throw new Error('usage: lazyTargets.js REPO REV')
const {Repository} = await import(join(root, 'dist/repo/Repository.js'))
const {ObjectType} = await import(join(root, 'dist/pack/block.js'))
const {decodeChunkList} = await import(join(root, 'dist/objects/chunkList.js'))

const repo = Repository.open(repoDir)
const files = []
const walk = (tree, prefix) => {
  for (const e of repo.readTree(tree)) {
    const p = prefix ? `${prefix}/${e.name}` : e.name
    if (e.kind === 'dir') walk(e.id, p)
    else if (e.kind !== 'symlink') files.push({path: p, id: e.id, size: e.size})
  }
}
walk(repo.readSnapshot(repo.resolveSnapshot(rev)).tree, '')

const depth = (p) => p.split('/').length
const deepest = files.reduce((a, f) => (depth(f.path) > depth(a.path) ? f : a), files[0])

// Package directories and their own files (not those of nested node_modules).
const pkgRe = /^(.*\/)?node_modules\/(@[^/]+\/)?[^/@][^/]*$/
const pkgs = new Map()
for (const f of files) {
  const parts = f.path.split('/')
  for (let i = parts.length - 1; i > 0; i--) {
    const dir = parts.slice(0, i).join('/')
    if (pkgRe.test(dir)) {
      let l = pkgs.get(dir)
      if (!l) pkgs.set(dir, (l = []))
      l.push(f)
      break
    }
  }
}
let best
for (const [dir, list] of pkgs) {
  if (deepest.path.startsWith(`${dir}/`)) continue
  if (!best || Math.abs(list.length - 100) < Math.abs(best.files.length - 100)) best = {dir, files: list}
}

// Compressed share of every object of those files.
const blockPayload = new Map()
const payloadOf = (pack, blockOffset) => {
  const key = `${pack.name}:${blockOffset}`
  if (!blockPayload.has(key)) {
    if (!pack.byBlock) {
      pack.byBlock = new Map()
      for (let i = 0; i < pack.index.count; i++) {
        const r = pack.index.record(i)
        pack.byBlock.set(r.blockOffset, (pack.byBlock.get(r.blockOffset) ?? 0) + r.length)
      }
    }
    blockPayload.set(key, pack.byBlock.get(blockOffset))
  }
  return blockPayload.get(key)
}
const counted = new Set()
let compressed = 0
const count = (oid) => {
  if (counted.has(oid)) return
  counted.add(oid)
  const loc = repo.packs.find(oid)
  if (!loc) throw new Error(`object ${oid} is not in ${repoDir}`)
  compressed += (loc.record.length / payloadOf(loc.pack, loc.record.blockOffset)) * loc.record.blockLength
  if (loc.record.type === ObjectType.chunkList) for (const c of decodeChunkList(repo.packs.read(oid).data, oid).chunks) count(c.id)
}
for (const f of best.files) if (f.size > 0) count(f.id)
repo.close()
console.log(JSON.stringify({
  deepest: deepest.path,
  package: {dir: best.dir, files: best.files.map((f) => f.path), bytes: best.files.reduce((a, f) => a + f.size, 0), compressed: Math.round(compressed)},
}))
