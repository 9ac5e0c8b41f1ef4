#!/usr/bin/env node
// `velo run` overhead benchmark: `velo run -- true` on the npm-tree corpus when nothing changed
// since the last snapshot (issue 6 target: <= 0.3 s), next to what bounds it, in the same run,
// interleaved round by round. Prints one JSON object (also to --json FILE). Needs `npm run build`.
//
//   node scripts/bench-run.js [--corpus DIR] [--rounds N] [--repo DIR] [--json FILE] [--no-materialize]
//
// Rows (each the median of N rounds; wall and CPU seconds from GNU time when /usr/bin/time exists;
// `timings` are velo run's own phases from its --json summary, medians in ms):
//   node -e 0, velo --version            process start
//   snapshot DIR (unchanged)             the stat walk every `--in DIR` pays first
//   run --in DIR -- true                 the default: input snapshotted, then a mount of it
//   run --in REV -- true                 input already recorded: mount, command, output, record
//   run --in MNT -- true                 DIR is a velo checkout: its snapshot reads only the upper layer
//   run --in REV --materialize -- true   restore to a temporary directory (one round: it writes every file)
// A scratch repository with one snapshot of the corpus is made in a temp dir (or --repo, kept).
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = join(root, 'bin/run.js')
const {values: opt} = parseArgs({
  options: {
    corpus: {type: 'string', default: process.env.VELO_BENCH_CORPUS ?? '/tmp/velo-bench/corpus-a/node_modules'},
    rounds: {type: 'string', default: '5'},
    repo: {type: 'string'},
    json: {type: 'string'},
    'no-materialize': {type: 'boolean'},
  },
})
const log = (m) => process.stderr.write(`bench-run: ${m}\n`)
if (!existsSync(opt.corpus)) throw new Error(`corpus ${opt.corpus} does not exist (--corpus DIR)`)
const corpus = resolve(opt.corpus)
const rounds = Math.max(1, Number(opt.rounds))
const haveTime = existsSync('/usr/bin/time')
const work = mkdtempSync(join(tmpdir(), 'velo-bench-run-'))
const repoDir = opt.repo ? resolve(opt.repo) : join(work, 'repo')
const env = {...process.env, VELO_REPO: repoDir}

/** Runs argv, returns {wall, cpu, stdout}; throws when the exit code is not `expect`. */
function measure(argv, o = {}) {
  const timeFile = join(work, 'time.txt')
  const cmd = haveTime ? ['/usr/bin/time', '-f', '%e %U %S', '-o', timeFile, ...argv] : argv
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd[0], cmd.slice(1), {cwd: o.cwd ?? work, env, encoding: 'utf8', maxBuffer: 64 << 20})
  const wall = Number(process.hrtime.bigint() - t0) / 1e9
  if (r.status !== (o.expect ?? 0)) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`)
  let cpu = null
  if (haveTime) {
    const [, u, s] = execFileSync('cat', [timeFile], {encoding: 'utf8'}).trim().split('\n').pop().split(' ').map(Number)
    cpu = u + s
  }
  return {wall, cpu, stdout: r.stdout}
}

const velo = (...args) => [process.execPath, BIN, ...args]
const median = (xs) => {
  const s = xs.filter((x) => x !== null).sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null
}
const round3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000)

function summaryTimings(stdout) {
  const last = stdout.trim().split('\n').pop()
  return JSON.parse(last).timings
}

let mnt
try {
  // Setup: one snapshot of the corpus (its stat cache makes the next ones "unchanged"), a velo
  // checkout of it for the MNT row, and one run of each kind to warm the page cache.
  if (!existsSync(join(repoDir, 'velo.json'))) {
    log(`cold snapshot of ${corpus} into ${repoDir} (once)`)
  }
  measure(velo('snapshot', corpus, '--ref', 'benchrun/corpus', '-q'))
  mnt = join(work, 'mnt')
  mkdirSync(mnt)
  measure(velo('checkout', 'benchrun/corpus', mnt))
  // Warm-up of every path measured below.
  measure(velo('snapshot', mnt, '--ref', 'benchrun/mnt', '-q'))
  measure(velo('run', '-q', '--in', corpus, '--ref', 'benchrun/run-dir', '--', 'true'))
  measure(velo('run', '-q', '--in', 'benchrun/corpus', '--ref', 'benchrun/run-rev', '--', 'true'))

  const rows = {
    'node -e 0': {argv: [process.execPath, '-e', '0'], wall: [], cpu: []},
    'velo --version': {argv: velo('--version'), wall: [], cpu: []},
    'velo snapshot DIR, unchanged': {argv: velo('snapshot', corpus, '--ref', 'benchrun/corpus', '-q'), wall: [], cpu: []},
    'velo run --in DIR -- true': {argv: velo('run', '--json', '--in', corpus, '--ref', 'benchrun/run-dir', '--', 'true'), wall: [], cpu: [], timings: []},
    'velo run --in REV -- true': {argv: velo('run', '--json', '--in', 'benchrun/corpus', '--ref', 'benchrun/run-rev', '--', 'true'), wall: [], cpu: [], timings: []},
    'velo snapshot MNT (velo checkout), unchanged': {argv: velo('snapshot', mnt, '--ref', 'benchrun/mnt', '-q'), wall: [], cpu: []},
    'velo run --in MNT -- true': {argv: velo('run', '--json', '--in', mnt, '--ref', 'benchrun/run-mnt', '--', 'true'), wall: [], cpu: [], timings: []},
  }
  for (let i = 0; i < rounds; i++) {
    log(`round ${i + 1}/${rounds}`)
    for (const row of Object.values(rows)) {
      const m = measure(row.argv)
      row.wall.push(m.wall)
      row.cpu.push(m.cpu)
      if (row.timings) row.timings.push(summaryTimings(m.stdout))
    }
  }
  if (!opt['no-materialize']) {
    log('materialize (one round)')
    const m = measure(velo('run', '--json', '--materialize', '--in', 'benchrun/corpus', '--ref', 'benchrun/run-mat', '--', 'true'))
    rows['velo run --in REV --materialize -- true (1 round)'] = {wall: [m.wall], cpu: [m.cpu], timings: [summaryTimings(m.stdout)]}
  }

  const out = {}
  for (const [name, row] of Object.entries(rows)) {
    const r = {wallS: round3(median(row.wall)), cpuS: round3(median(row.cpu))}
    if (row.timings) {
      r.timingsMs = {}
      for (const k of Object.keys(row.timings[0])) r.timingsMs[k] = median(row.timings.map((t) => t[k]))
    }
    out[name] = r
  }
  const target = 0.3
  const result = {
    benchmark: 'velo run overhead',
    corpus,
    rounds,
    machine: {cpus: cpus().length, loadavg: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version},
    target: {row: 'velo run --in DIR -- true', wallS: target},
    rows: out,
    verdict: {
      'run --in DIR': out['velo run --in DIR -- true'].wallS <= target ? 'PASS' : 'FAIL',
      'run --in REV': out['velo run --in REV -- true'].wallS <= target ? 'PASS' : 'FAIL',
      'run --in MNT': out['velo run --in MNT -- true'].wallS <= target ? 'PASS' : 'FAIL',
      overheadOverUnchangedSnapshotS: round3(out['velo run --in DIR -- true'].wallS - out['velo snapshot DIR, unchanged'].wallS),
    },
  }
  const text = JSON.stringify(result, null, 2)
  process.stdout.write(text + '\n')
  if (opt.json) writeFileSync(opt.json, text + '\n')
} finally {
  if (mnt) spawnSync(process.execPath, [BIN, 'unmount', '--force', '--discard', mnt], {env, stdio: 'ignore'})
  rmSync(work, {recursive: true, force: true})
}
