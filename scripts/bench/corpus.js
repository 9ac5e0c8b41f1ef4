// Benchmark corpora, byte-compatible with ../shared/bench/corpus.sh (existing builds are reused):
//   corpus-a  the npm tree of ../shared/bench/corpus/a (pinned package.json + package-lock.json,
//             `npm install --ignore-scripts`): ~49k files, ~396 MiB.
//   corpus-c  4 x 256 MiB pseudo-random files (AES-256-CTR keystream, fixed keys) in v1/, and v2/
//             with 1 MiB overwritten in place at 100 MiB of f0.bin.
import {createCipheriv, createHash} from 'node:crypto'
import {closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, utimesSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {log, q, sh} from './sh.js'

export function ensureCorpusA({dir, src}) {
  if (existsSync(join(dir, 'node_modules'))) return {built: false}
  for (const f of ['package.json', 'package-lock.json']) {
    if (!existsSync(join(src, f))) throw new Error(`corpus source ${join(src, f)} is missing (set CORPUS_SRC)`)
  }
  const tmp = `${dir}.tmp-${process.pid}`
  rmSync(tmp, {recursive: true, force: true})
  mkdirSync(tmp, {recursive: true})
  copyFileSync(join(src, 'package.json'), join(tmp, 'package.json'))
  copyFileSync(join(src, 'package-lock.json'), join(tmp, 'package-lock.json'))
  log(`corpus-a: npm install of the pinned lockfile into ${tmp} (a minute or two)`)
  sh(`cd ${q(tmp)} && npm install --ignore-scripts --no-audit --no-fund --loglevel=error`)
  if (!readFileSync(join(tmp, 'package-lock.json')).equals(readFileSync(join(src, 'package-lock.json')))) {
    log('WARNING: npm changed corpus-a\'s package-lock.json (registry drift?): the tree may differ from other machines\'')
  }
  rmSync(dir, {recursive: true, force: true})
  renameSync(tmp, dir)
  return {built: true}
}

/** Writes `bytes` of the keystream of `seed` (the same bytes as corpus.sh's openssl pipeline). */
function writeKeystream(path, seed, bytes, {position = 0, create = true} = {}) {
  const key = createHash('sha256').update(`velo-bench-${seed}`).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(1 << 20)
  const fd = openSync(path, create ? 'w' : 'r+')
  try {
    for (let done = 0; done < bytes; ) {
      const n = Math.min(zeros.length, bytes - done)
      const block = cipher.update(n === zeros.length ? zeros : zeros.subarray(0, n))
      writeSync(fd, block, 0, block.length, position + done)
      done += n
    }
  } finally {
    closeSync(fd)
  }
}

export function ensureCorpusC({dir, files = 4, mib = 256, changeAtMib = Math.floor((mib * 100) / 256)}) {
  if (existsSync(join(dir, 'v2'))) return {built: false}
  const tmp = `${dir}.tmp-${process.pid}`
  rmSync(tmp, {recursive: true, force: true})
  mkdirSync(join(tmp, 'v1'), {recursive: true})
  const t1 = new Date('2024-01-01T00:00:00Z')
  const t2 = new Date('2024-02-01T00:00:00Z')
  for (let i = 0; i < files; i++) {
    log(`corpus-c: v1/f${i}.bin (${mib} MiB)`)
    writeKeystream(join(tmp, 'v1', `f${i}.bin`), `f${i}`, mib << 20)
    utimesSync(join(tmp, 'v1', `f${i}.bin`), t1, t1)
  }
  utimesSync(join(tmp, 'v1'), t1, t1)
  sh(`cp -a ${q(join(tmp, 'v1'))} ${q(join(tmp, 'v2'))}`)
  writeKeystream(join(tmp, 'v2', 'f0.bin'), 'f0-v2', 1 << 20, {position: changeAtMib << 20, create: false})
  utimesSync(join(tmp, 'v2', 'f0.bin'), t2, t2)
  rmSync(dir, {recursive: true, force: true})
  renameSync(tmp, dir)
  return {built: true}
}

/** files, dirs, symlinks, bytes of a tree (find, untimed). */
export function describeTree(dir) {
  const out = sh(`find ${q(dir)} -printf '%y %s\\n'`)
  const d = {files: 0, dirs: 0, symlinks: 0, bytes: 0}
  for (const line of out.split('\n')) {
    if (!line) continue
    const [t, s] = line.split(' ')
    if (t === 'f') {
      d.files++
      d.bytes += Number(s)
    } else if (t === 'd') d.dirs++
    else if (t === 'l') d.symlinks++
  }
  return d
}
