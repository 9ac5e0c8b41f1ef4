#!/usr/bin/env node
// Maintenance benchmark: `velo fsck` of a repository holding one snapshot of the npm-tree corpus,
// against the time to read the repository's files (`cat packs/* > /dev/null`, page cache warm for
// both, interleaved rounds); and `velo gc` with nothing to delete (the default grace period, and
// --prune now, which walks the whole graph). Prints one JSON object. Needs `npm run build`.
//
//   node scripts/bench-maintenance.js [--corpus DIR] [--rounds N] [--repo DIR]
//
// Targets (issue 8): fsck <= 2x the read time; gc with nothing to delete <= 1 s. Times are wall
// clock of the whole command, process start included; cpu is user + system of the child.
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, rmSync, statSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const {values: opt} = parseArgs({
  options: {
    corpus: {type: 'string', default: process.env.VELO_BENCH_CORPUS ?? '/tmp/velo-bench/corpus-a/node_modules'},
    rounds: {type: 'string', default: '3'},
    repo: {type: 'string'},
  },
})
const log = (m) => process.stderr.write(`bench-maintenance: ${m}\n`)
if (!existsSync(opt.corpus)) throw new Error(`corpus ${opt.corpus} does not exist (--corpus DIR)`)
const rounds = Number(opt.rounds)
const env = {...process.env, VELO_FSYNC: process.env.VELO_FSYNC ?? '0', NO_COLOR: '1'}
const bin = join(root, 'bin/run.js')

const work = opt.repo ? undefined : mkdtempSync(join(tmpdir(), 'velo-bench-maint-'))
const repo = opt.repo ?? join(work, 'repo')

/** Runs a command; returns wall seconds and child cpu seconds. */
function timed(cmd, args) {
  const before = process.resourceUsage()
  const t = process.hrtime.bigint()
  const r = spawnSync(cmd, args, {env, encoding: 'utf8', maxBuffer: 64 << 20, shell: false})
  const wall = Number(process.hrtime.bigint() - t) / 1e9
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return {wall, stdout: r.stdout, cpu: childCpu()}
}
let lastChild = {user: 0, system: 0}
function childCpu() {
  // getrusage(RUSAGE_CHILDREN) through /proc: utime + stime of waited-for children (clock ticks).
  const f = execFileSync('cat', [`/proc/${process.pid}/stat`], {encoding: 'utf8'})
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ')
  const hz = 100
  const now = {user: Number(parts[13]) / hz, system: Number(parts[14]) / hz}
  const d = now.user - lastChild.user + (now.system - lastChild.system)
  lastChild = now
  return d
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
const last = (s) => JSON.parse(s.trim().split('\n').pop())

try {
  if (!existsSync(join(repo, 'packs'))) {
    log(`snapshot of ${opt.corpus} into ${repo}`)
    timed(process.execPath, [bin, 'snapshot', opt.corpus, '--repo', repo, '--ref', 'deps', '--json'])
  }
  childCpu()
  const packsDir = join(repo, 'packs')
  const packFiles = readdirSync(packsDir).map((f) => join(packsDir, f))
  const repoBytes = packFiles.reduce((a, p) => a + statSync(p).size, 0)
  const catArgs = ['-c', `cat ${packsDir}/* > /dev/null`]
  timed('sh', catArgs) // warm the page cache
  const rows = {cat: [], fsck: [], fsckCpu: [], fsckInner: [], gc: [], gcCpu: [], gcPruneNow: [], gcPruneNowCpu: []}
  let objects = 0
  for (let i = 0; i < rounds; i++) {
    log(`round ${i + 1}/${rounds}`)
    rows.cat.push(timed('sh', catArgs).wall)
    const f = timed(process.execPath, [bin, 'fsck', '--repo', repo, '--json'])
    const rep = last(f.stdout)
    if (!rep.ok) throw new Error(`fsck found problems: ${JSON.stringify(rep.problems.slice(0, 3))}`)
    objects = rep.objects.verified
    rows.fsck.push(f.wall)
    rows.fsckCpu.push(f.cpu)
    rows.fsckInner.push(rep.durationMs / 1000)
    const g = timed(process.execPath, [bin, 'gc', '--repo', repo, '--json'])
    if (last(g.stdout).deletedObjects !== 0) throw new Error('gc deleted something')
    rows.gc.push(g.wall)
    rows.gcCpu.push(g.cpu)
    const n = timed(process.execPath, [bin, 'gc', '--prune', 'now', '--repo', repo, '--json'])
    if (last(n.stdout).deletedObjects !== 0) throw new Error('gc --prune now deleted something')
    rows.gcPruneNow.push(n.wall)
    rows.gcPruneNowCpu.push(n.cpu)
  }
  const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, Number(median(v).toFixed(3))]))
  const out = {
    corpus: opt.corpus,
    repoBytes,
    packs: packFiles.filter((p) => p.endsWith('.pack')).length,
    objects,
    rounds,
    machine: {cpus: cpus().length, loadavg: loadavg().map((x) => Number(x.toFixed(2)))},
    seconds: m,
    fsck: {ratioToRead: Number((m.fsck / m.cat).toFixed(2)), target: 2, met: m.fsck <= 2 * m.cat, cpuSeconds: m.fsckCpu, inProcessSeconds: m.fsckInner, readMiBps: Number((repoBytes / 2 ** 20 / m.cat).toFixed(0)), fsckMiBps: Number((repoBytes / 2 ** 20 / m.fsck).toFixed(0))},
    gc: {seconds: m.gc, pruneNowSeconds: m.gcPruneNow, target: 1, met: m.gc <= 1 && m.gcPruneNow <= 1, cpuSeconds: m.gcCpu, pruneNowCpuSeconds: m.gcPruneNowCpu},
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n')
} finally {
  if (work) rmSync(work, {recursive: true, force: true})
}
