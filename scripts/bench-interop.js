#!/usr/bin/env node
// Benchmark of velo's tar interop (issue 7), printed as JSON on stdout (progress on stderr):
//   export: `velo export tar` of a snapshot of the tree vs GNU `tar cf` of the tree     target <= 2x
//   import: `velo import tar` of that archive vs a cold `velo snapshot` of the tree     target <= 1.2x
// Every step runs the real CLI (bin/run.js, so `npm run build` first) in a fresh process, on a warm
// page cache, steps alternating within each round; the figures are medians over the rounds.
// "Cold" snapshot = a new repository (no stat cache, no stored objects), as for the import.
//
//   node scripts/bench-interop.js [--corpus DIR] [--rounds N] [--work DIR] [--keep]
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, statSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(root, 'bin/run.js')
const {values: opt} = parseArgs({
  options: {
    corpus: {type: 'string', default: '/tmp/velo-bench/corpus-a/node_modules'},
    rounds: {type: 'string', default: '3'},
    work: {type: 'string'},
    keep: {type: 'boolean'},
  },
})
const rounds = Number(opt.rounds)
const corpus = resolve(opt.corpus)
if (!existsSync(join(root, 'dist/archive/exportTar.js'))) throw new Error('build first: npm run build')
if (!existsSync(corpus)) throw new Error(`corpus ${corpus} does not exist (--corpus DIR)`)
const work = opt.work ? resolve(opt.work) : mkdtempSync(join(tmpdir(), 'velo-bench-interop-'))

/** Runs a command under /usr/bin/time: wall, user and system seconds. */
function timed(label, cmd, args) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', cmd, ...args], {encoding: 'utf8', maxBuffer: 64 << 20})
  if (r.status !== 0) throw new Error(`${label}: ${cmd} ${args.join(' ')} exited ${r.status}\n${r.stderr}`)
  const [wall, user, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number)
  process.stderr.write(`  ${label.padEnd(16)} ${wall.toFixed(2)} s (cpu ${(user + sys).toFixed(2)} s)\n`)
  return {wall, cpu: user + sys}
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const rm = (p) => rmSync(p, {recursive: true, force: true})
const steps = {tarCf: [], veloExport: [], coldSnapshot: [], veloImport: []}

const snapRepo = join(work, 'snap-repo')
const importRepo = join(work, 'import-repo')
const gnuTar = join(work, 'gnu.tar')
const veloTar = join(work, 'velo.tar')
// Warm the page cache and make the snapshot the exports read.
process.stderr.write(`corpus ${corpus}; work ${work}; warming up\n`)
spawnSync('tar', ['cf', '/dev/null', '-C', corpus, '.'])
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`)
  rm(snapRepo)
  steps.coldSnapshot.push(timed('cold snapshot', process.execPath, [bin, 'snapshot', corpus, '--repo', snapRepo, '--ref', 'corpus', '--quiet']))
  rm(gnuTar)
  steps.tarCf.push(timed('tar cf', 'tar', ['cf', gnuTar, '-C', corpus, '.']))
  rm(veloTar)
  steps.veloExport.push(timed('velo export tar', process.execPath, [bin, 'export', 'tar', 'corpus', '--repo', snapRepo, '-o', veloTar]))
  rm(importRepo)
  steps.veloImport.push(timed('velo import tar', process.execPath, [bin, 'import', 'tar', veloTar, '--repo', importRepo, '--ref', 'corpus']))
}

const files = Number(spawnSync('sh', ['-c', `find "${corpus}" -type f | wc -l`], {encoding: 'utf8'}).stdout.trim())
const summary = (xs) => ({wallSeconds: median(xs.map((x) => x.wall)), cpuSeconds: median(xs.map((x) => x.cpu)), runs: xs.map((x) => x.wall)})
const result = {
  corpus: {path: corpus, files, archiveBytes: statSync(veloTar).size},
  machine: {cpus: cpus().length, loadavg: loadavg().map((x) => Number(x.toFixed(2))), node: process.version},
  rounds,
  tarCf: summary(steps.tarCf),
  veloExportTar: summary(steps.veloExport),
  coldSnapshot: summary(steps.coldSnapshot),
  veloImportTar: summary(steps.veloImport),
}
result.exportRatio = Number((result.veloExportTar.wallSeconds / result.tarCf.wallSeconds).toFixed(2))
result.importRatio = Number((result.veloImportTar.wallSeconds / result.coldSnapshot.wallSeconds).toFixed(2))
result.targets = {exportRatio: 2, importRatio: 1.2, exportMet: result.exportRatio <= 2, importMet: result.importRatio <= 1.2}
process.stdout.write(JSON.stringify(result, null, 2) + '\n')
if (!opt.keep && !opt.work) rm(work)
