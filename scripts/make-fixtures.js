// Regenerates the golden byte fixtures under test/fixtures/ from the compiled codecs (dist/).
// Run `npm run build && node scripts/make-fixtures.js`, then review the diff: a changed .bin/.idx
// means the on-disk format changed (which breaks every existing repository) - bump the format
// magic and docs/format.md, never just regenerate. See test/fixtures/README.md.
import {mkdirSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {hash} from '../dist/objects/hash.js'
import {compareNames} from '../dist/objects/names.js'
import {encodeTree} from '../dist/objects/tree.js'
import {encodeSnapshot} from '../dist/objects/snapshot.js'
import {encodeRunRecord} from '../dist/objects/runRecord.js'
import {encodeChunkList} from '../dist/objects/chunkList.js'
import {BlockBuilder} from '../dist/pack/block.js'
import {encodePackIndex} from '../dist/pack/packIndex.js'
import {DEFAULT_CHUNK_PARAMS, GEAR, findCut} from '../dist/chunk/fastcdc.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures')
const id = (s) => hash(Buffer.from(s)).toString('hex')
const write = (rel, data) => {
  const p = join(root, rel)
  mkdirSync(dirname(p), {recursive: true})
  writeFileSync(p, typeof data === 'string' ? data : data)
}
const json = (v) => JSON.stringify(v, null, 2) + '\n'

// tree: every entry kind, an empty file, a unicode name with spaces, a multi-byte varint size.
const tree = [
  {name: 'a.txt', kind: 'file', size: 6, id: id('hello\n')},
  {name: 'bin', kind: 'dir', size: 70000, id: id('tree:bin')},
  {name: 'empty', kind: 'file', size: 0, id: id('')},
  {name: 'link', kind: 'symlink', size: 8, id: id('../a.txt'), target: '../a.txt'},
  {name: 'run.sh', kind: 'exec', size: 300, id: id('#!/bin/sh\n')},
  {name: 'über café.txt', kind: 'file', size: 2, id: id('hi')},
].sort((a, b) => compareNames(a.name, b.name))
const treeBytes = encodeTree(tree)
write('tree/small.bin', treeBytes)
write('tree/small.json', json({id: hash(treeBytes).toString('hex'), entries: tree}))

// snapshots: with parents, message and meta (keys given unsorted), and a minimal root snapshot.
const snapshots = {
  full: {
    tree: hash(treeBytes).toString('hex'),
    parents: [id('parent-1'), id('parent-2')],
    time: 1764000000123,
    user: 'alice',
    host: 'build-1',
    message: 'after npm ci\nsecond line: "quoted" ü',
    meta: {zeta: 'last', alpha: 'first', 'key=with=equals': 'v'},
  },
  root: {tree: id('tree:root'), parents: [], time: 0, user: 'root', host: 'h', message: '', meta: {}},
}
for (const [name, s] of Object.entries(snapshots)) {
  const b = encodeSnapshot(s)
  write(`snapshot/${name}.bin`, b)
  write(`snapshot/${name}.json`, json({id: hash(b).toString('hex'), snapshot: s}))
}

// chunk list: three chunks, sizes needing 1, 2 and 3 varint bytes.
const chunks = [
  {id: id('chunk-0'), size: 100},
  {id: id('chunk-1'), size: 1000},
  {id: id('chunk-2'), size: 524288},
]
const cl = encodeChunkList(chunks)
write('chunklist/three.bin', cl)
write('chunklist/three.json', json({size: 100 + 1000 + 524288, chunks}))

// blocks: the same three objects stored raw (level 0) and zstd-compressed (level 3).
const objects = [
  {type: 1, text: 'hello\n'},
  {type: 2, text: ''},
  {type: 1, text: 'velo '.repeat(200)},
]
for (const [name, level] of [['raw', 0], ['zstd', 3]]) {
  const bb = new BlockBuilder()
  for (const o of objects) bb.add(hash(Buffer.from(o.text)), o.type, Buffer.from(o.text))
  const sealed = bb.seal(level)
  write(`block/${name}.bin`, sealed.bytes)
  write(`block/${name}.json`, json({
    level,
    rawLength: sealed.rawLength,
    objects: objects.map((o, i) => ({...o, id: id(o.text), offset: sealed.entries[i].offset, length: sealed.entries[i].length})),
  }))
}

// pack index: ids in the first and last fanout buckets, two sharing a first byte, a >4 GiB offset.
const idxEntries = [
  {id: 'ff' + '01'.repeat(31), type: 1, blockOffset: 8, blockLength: 100, offset: 3, length: 50},
  {id: '00' + 'aa'.repeat(31), type: 2, blockOffset: 108, blockLength: 40, offset: 0, length: 40},
  {id: '7f' + '02'.repeat(31), type: 3, blockOffset: 2 ** 32 + 5, blockLength: 300, offset: 10, length: 200},
  {id: '7f' + '01'.repeat(31), type: 4, blockOffset: 148, blockLength: 300, offset: 210, length: 90},
  {id: '80' + '00'.repeat(31), type: 1, blockOffset: 448, blockLength: 12 + 2 ** 17, offset: 4, length: 2 ** 17},
]
const packChecksum = id('pack')
const idx = encodePackIndex('meta', idxEntries.map((e) => ({...e, id: Buffer.from(e.id, 'hex')})), Buffer.from(packChecksum, 'hex'))
write('packindex/small.idx', idx)
write('packindex/small.json', json({kind: 'meta', packChecksum, entries: idxEntries.slice().sort((a, b) => (a.id < b.id ? -1 : 1))}))

// FastCDC: the cut points of 8 MiB of deterministic pseudo-random bytes with the default parameters.
// randomBytes() is the generator of test/helpers/trees.ts (xorshift128 seeded by BLAKE3).
function randomBytes(n, seed) {
  const h = hash(Buffer.from(`velo-test-${seed}`))
  let x = h.readInt32LE(0) | 1, y = h.readInt32LE(4), z = h.readInt32LE(8), w = h.readInt32LE(12)
  const buf = Buffer.allocUnsafeSlow((n + 3) & ~3)
  const u = new Int32Array(buf.buffer, buf.byteOffset, buf.length >>> 2)
  for (let i = 0; i < u.length; i++) {
    const t = x ^ (x << 11)
    x = y
    y = z
    z = w
    w = w ^ (w >>> 19) ^ (t ^ (t >>> 8))
    u[i] = w
  }
  return buf.subarray(0, n)
}
const cdcData = randomBytes(8 << 20, 'fastcdc-golden')
const cuts = []
for (let start = 0; start < cdcData.length; ) {
  start += findCut(cdcData, start, Math.min(cdcData.length, start + DEFAULT_CHUNK_PARAMS.max), DEFAULT_CHUNK_PARAMS)
  cuts.push(start)
}
write('fastcdc/cuts.json', json({
  input: "randomBytes(8 << 20, 'fastcdc-golden')",
  inputBlake3: hash(cdcData).toString('hex'),
  params: DEFAULT_CHUNK_PARAMS,
  gearBlake3: hash(Buffer.from(GEAR.buffer)).toString('hex'),
  gearFirst: [...GEAR.subarray(0, 4)],
  cuts,
}))

// run records: every field set (a chain member with an inline trace and a redacted variable), and
// one killed by a signal, interrupted, signed, with its trace stored as a blob.
const runRecords = {
  full: {
    input: id('input'), output: id('output'), previous: id('previous'),
    argv: ['sh', '-c', 'echo "hi" > out.txt'], cwd: 'pkg/app',
    env: {PATH: '/usr/bin:/bin', HOME: '/home/ü', GITHUB_TOKEN: '[redacted]'}, redacted: ['GITHUB_TOKEN'],
    stdout: {id: id('stdout'), size: 3}, stderr: {id: id(''), size: 0},
    exitCode: 0, signal: null, interrupted: false, start: 1764000000123, duration: 4567,
    host: 'ci-1', user: 'alice', mode: 'mount', trace: {count: 2, paths: ['pkg/app/in.txt', 'pkg/app/out.txt']}, velo: '0.1.0',
  },
  signed: {
    input: id('input'), output: id('input'), previous: null,
    argv: ['make'], cwd: '',
    env: {}, redacted: [],
    stdout: {id: id('out'), size: 70000}, stderr: {id: id('err'), size: 12},
    exitCode: null, signal: 'SIGINT', interrupted: true, start: 0, duration: 0,
    host: 'h', user: 'u', mode: 'materialize', trace: {count: 5000, blob: id('trace')}, velo: '0.1.0',
    signature: {key: Buffer.alloc(32, 7).toString('base64'), sig: Buffer.alloc(64, 9).toString('base64')},
  },
}
for (const [name, r] of Object.entries(runRecords)) {
  const bytes = encodeRunRecord(r)
  write(`run/${name}.bin`, bytes)
  write(`run/${name}.json`, json({id: hash(bytes).toString('hex'), record: r}))
}

console.log(`fixtures written to ${root}`)
