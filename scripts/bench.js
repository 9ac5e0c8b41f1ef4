#!/usr/bin/env node
// `npm run bench`: velo against git, tar and the raw limits of the machine, measured in the same
// run on the npm-tree corpus (../shared/bench/corpus/a) and a big-file corpus. Method and results:
// docs/benchmarks.md. Groups of rows live in scripts/bench/groups/ (see index.js to add one).
//
//   npm run bench -- [--rounds N] [--only g1,g2] [--skip g] [--json FILE] [--markdown FILE]
//                    [--fs auto|loop|none] [--work DIR] [--keep] [--list]
import {existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, totalmem} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {Bench, Interrupted, StepFailed} from './bench/Bench.js'
import {describeTree, ensureCorpusA, ensureCorpusC} from './bench/corpus.js'
import {describeFs, fsUp} from './bench/fs.js'
import {groups as allGroups} from './bench/groups/index.js'
import {markdownReport, textReport} from './bench/report.js'
import {log, q, sh, versionOf} from './bench/sh.js'

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const env = process.env

const {values: opt} = parseArgs({
  options: {
    rounds: {type: 'string'},
    only: {type: 'string', multiple: true},
    skip: {type: 'string', multiple: true},
    'no-deps': {type: 'boolean'},
    json: {type: 'string'},
    markdown: {type: 'string'},
    fs: {type: 'string'},
    'fs-size': {type: 'string'},
    work: {type: 'string'},
    keep: {type: 'boolean'},
    list: {type: 'boolean'},
    help: {type: 'boolean', short: 'h'},
  },
})

const HELP = `Usage: npm run bench -- [options]

  --rounds N        rounds, interleaved (env ROUNDS; default 3)
  --only G[,G]      only these groups (plus the groups their ratios refer to, unless --no-deps)
  --skip G[,G]      leave these groups out
  --json FILE       write every measurement as JSON
  --markdown FILE   write a Markdown section for docs/benchmarks.md
  --fs MODE         auto (default: journaled ext4 loop mount when root), loop, none (env BENCH_FS)
  --fs-size SIZE    size of the sparse ext4 image (default 40G)
  --work DIR        work directory (env WORK; default $BENCH_DIR/bench-PID)
  --keep            keep the work directory (plain fs only; a loop mount is always removed)
  --list            list the groups and rows

Environment: BENCH_DIR (default /tmp/velo-bench: corpus-a, corpus-c, work dirs), CORPUS_SRC
(default ../shared/bench/corpus/a), ROUNDS, ONLY, BENCH_FS, WORK. Method: docs/benchmarks.md.`

if (opt.help) {
  console.log(HELP)
  process.exit(0)
}
if (opt.list) {
  for (const g of allGroups) {
    console.log(`${g.name}: ${g.title}`)
    for (const r of g.rows) console.log(`  ${r.id.padEnd(24)} ${r.label}${r.vs ? ` (vs ${r.vs})` : ''}${r.target ? ` [target ${r.target.text}]` : ''}`)
  }
  process.exit(0)
}

const list = (xs) => (xs ?? []).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean)
const rounds = Number(opt.rounds ?? env.ROUNDS ?? 3)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds takes a positive integer, got ${opt.rounds ?? env.ROUNDS}`)
const only = list(opt.only ?? (env.ONLY ? [env.ONLY] : []))
const skip = list(opt.skip)
for (const n of [...only, ...skip]) if (!allGroups.some((g) => g.name === n)) throw new Error(`unknown group ${n} (groups: ${allGroups.map((g) => g.name).join(', ')})`)

// Selection: --only, plus the groups that own the rows the selected ratios refer to.
const selected = new Set(only.length ? only : allGroups.map((g) => g.name))
for (const n of skip) selected.delete(n)
if (!opt['no-deps']) {
  const owner = new Map(allGroups.flatMap((g) => g.rows.map((r) => [r.id, g.name])))
  for (let grew = true; grew; ) {
    grew = false
    for (const g of allGroups.filter((x) => selected.has(x.name))) {
      for (const r of g.rows) {
        const dep = r.vs && owner.get(r.vs)
        if (dep && !selected.has(dep) && !skip.includes(dep)) {
          selected.add(dep)
          grew = true
          log(`adding group ${dep} (row ${r.id} is measured against ${r.vs})`)
        }
      }
    }
  }
}
const groups = allGroups.filter((g) => selected.has(g.name))

const benchDir = resolve(env.BENCH_DIR ?? '/tmp/velo-bench')
const work = resolve(opt.work ?? env.WORK ?? join(benchDir, `bench-${process.pid}`))
const corpusADir = join(benchDir, 'corpus-a')
const corpusCDir = join(benchDir, 'corpus-c')
const needs = (c) => groups.some((g) => g.corpus === c)

const missing = ['/usr/bin/time', 'git', 'tar', 'b3sum', 'find', 'xargs', 'du'].filter((t) => sh(`command -v ${t} || true`).trim() === '')
if (missing.length) throw new Error(`missing tools: ${missing.join(' ')} (Debian: apt-get install time git tar b3sum findutils coreutils)`)

// velo as built in this checkout, with its default durability (fsync on).
if (!existsSync(join(projectRoot, 'dist', 'cli', 'snapshotCli.js'))) {
  log('dist/ is missing: npm run build')
  sh(`cd ${q(projectRoot)} && npm run build`)
}
const childEnv = {...env, LC_ALL: 'C', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.invalid'}
for (const k of Object.keys(childEnv)) if (k.startsWith('VELO_')) delete childEnv[k]
const velo = q(join(projectRoot, 'bin', 'run.js'))

if (needs('npm')) ensureCorpusA({dir: corpusADir, src: resolve(env.CORPUS_SRC ?? join(projectRoot, '..', 'shared', 'bench', 'corpus', 'a'))})
if (needs('big')) ensureCorpusC({dir: corpusCDir})

mkdirSync(benchDir, {recursive: true})
const createdWork = !existsSync(work)
const fs = fsUp({work, image: `${work}.img`, size: opt['fs-size'] ?? '40G', mode: opt.fs ?? env.BENCH_FS ?? 'auto'})
let tornDown = false
const teardown = () => {
  if (tornDown) return
  tornDown = true
  try {
    fs.down()
    if (fs.kind === 'loop' || (!opt.keep && createdWork)) {
      if (fs.kind === 'plain') log(`removing ${work}`)
      rmSync(work, {recursive: true, force: true})
    }
  } catch (err) {
    log(`teardown: ${err.message}`)
  }
}
// Ctrl-C also reaches the running child, whose exit is turned into an Interrupted error (the
// finally below tears down); a signal sent to this process alone is handled between groups.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`)
    teardown()
    process.exit(130)
  })
}

try {
  await main()
} catch (err) {
  if (!(err instanceof Interrupted || err?.cause === 'interrupted')) throw err
  log(err.message)
  process.exitCode = 130
} finally {
  teardown()
}

async function main() {
  // On the loop filesystem the tree is a copy (mtimes kept), as ../shared/bench/peers.sh does;
  // on a plain filesystem the corpus itself is measured (read only; a copy would cost a slow
  // delete on the next run on the no-journal root fs).
  const tree = fs.kind === 'plain' ? corpusADir : join(work, 'tree')
  if (needs('npm') && tree !== corpusADir && !existsSync(tree)) {
    log(`copying the npm tree to ${tree}`)
    sh(`cp -a ${q(corpusADir)} ${q(tree)}`)
  }
  const logFile = `${work}.log`
  writeFileSync(logFile, '')
  const bench = new Bench({groups, work, logFile, env: childEnv, velo, tree, big: corpusCDir, projectRoot})
  bench.corpus = {npm: needs('npm') ? describeTree(tree) : undefined}
  if (needs('npm')) {
    // velo's stat cache re-hashes entries whose mtime is within 1 s of the cache's time (racy):
    // the unchanged re-snapshot row must not measure that, so the newest mtime must be older.
    const newest = Number(sh(`find ${q(tree)} -type f -printf '%T@\n' | sort -n | tail -1`).trim() || 0) * 1000
    const wait = newest + 2000 - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  }
  const started = new Date()
  const cpu0 = cpuCounters()
  const roundInfo = []
  const warmTimes = []
  const warm = (g) => {
    if (g.corpus !== 'npm') return
    const t0 = process.hrtime.bigint()
    sh(`find ${q(tree)} -type f -print0 | xargs -0 cat >/dev/null`)
    const secs = Number(process.hrtime.bigint() - t0) / 1e9
    warmTimes.push({round: bench.round, group: g.name, seconds: secs})
    bench.note(`warm (untimed re-read of the npm tree): ${secs.toFixed(2)} s`)
  }
  const setupFailed = new Set()
  const runStep = (g, what, fn) => {
    bench.group = g
    if (setupFailed.has(g)) return
    warm(g)
    try {
      fn()
    } catch (err) {
      if (err instanceof Interrupted || err?.cause === 'interrupted') throw err
      if (!(err instanceof StepFailed)) log(`  !! ${g.name} ${what}: ${err.stack ?? err}`)
      else log(`  !! ${err.message}`)
      bench.check(`${g.name} ${what} completed`, false, err.message.split('\n').slice(0, 3).join(' / '))
      if (what === 'setup') setupFailed.add(g)
    }
  }

  for (const g of groups.filter((x) => x.setup)) {
    log(`setup ${g.name}`)
    runStep(g, 'setup', () => g.setup(bench))
  }
  for (let r = 1; r <= rounds; r++) {
    bench.round = r
    const k = (r - 1) % groups.length
    const order = [...groups.slice(k), ...groups.slice(0, k)]
    log(`round ${r}/${rounds}: ${order.map((g) => g.name).join(' ')}`)
    const c0 = cpuCounters()
    const load0 = loadavg()[0]
    for (const g of order) {
      await new Promise(setImmediate) // lets a SIGTERM sent to this process be handled between groups
      runStep(g, `round ${r}`, () => g.round(bench))
    }
    const c1 = cpuCounters()
    roundInfo.push({round: r, load1Start: load0, load1End: loadavg()[0], ...otherCpu(c0, c1)})
  }

  const summary = bench.summarize()
  const all = otherCpu(cpu0, cpuCounters())
  const meta = {
    date: started.toISOString().replace(/\.\d+Z$/, 'Z'),
    rounds,
    groups: groups.map((g) => g.name),
    machine: {cpus: cpus().length, cpu: cpus()[0]?.model?.trim(), memGiB: Math.round(totalmem() / 2 ** 30), kernel: sh('uname -sr').trim(), node: process.version},
    fs: fs.description,
    fsKind: fs.kind,
    work,
    load: `${loadRange(roundInfo)} (1-min, at round starts and ends); other processes used ${all.otherCores.toFixed(2)} of ${cpus().length} cores on average during the run`,
    roundInfo,
    warmTimes,
    otherCores: all.otherCores,
    corpus: {npm: bench.corpus.npm, npmDir: tree, big: needs('big') ? corpusCDir : undefined},
    tools: [versionOf(`${velo} --version`), versionOf('git --version'), versionOf('tar --version'), versionOf('b3sum --version')],
    velo: {command: velo, durability: 'default (VELO_* unset: fsync on)'},
    checks: bench.checks,
    durationS: (Date.now() - started.getTime()) / 1000,
  }
  console.log(textReport(summary, groups, meta))
  const failedChecks = bench.checks.filter((c) => !c.ok)
  if (failedChecks.length) {
    console.log('\nFailed checks:')
    for (const c of failedChecks) console.log(`  r${c.round} ${c.group}: ${c.name}: ${c.detail}`)
  }
  if (fs.kind === 'plain') console.log(`\nNOTE: measured on a plain filesystem (${describeFs(work)}), not a journaled ext4 loop mount: on a no-journal ext4, creating files soon after deleting many is 10-20x slower.`)
  console.log(`\n${(meta.durationS / 60).toFixed(1)} min; every command and its output: ${logFile}`)
  if (opt.json) writeFileSync(opt.json, JSON.stringify({meta, rows: summary}, null, 2) + '\n')
  if (opt.markdown) writeFileSync(opt.markdown, markdownReport(summary, groups, meta))
  bench.close()
}

function loadRange(info) {
  const xs = info.flatMap((x) => [x.load1Start, x.load1End])
  return `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`
}

/** Busy CPU jiffies of the machine and of this process with its waited-for children. */
function cpuCounters() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu
  const self = readFileSync('/proc/self/stat', 'utf8')
  const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number)
  // fields after the command: state=0 ... utime=11 stime=12 cutime=13 cstime=14
  return {busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal, ours: f[11] + f[12] + f[13] + f[14], t: process.hrtime.bigint()}
}

function otherCpu(a, b) {
  const secs = Number(b.t - a.t) / 1e9
  const hz = 100 // USER_HZ on Linux
  const other = Math.max(0, (b.busy - a.busy) - (b.ours - a.ours)) / hz
  return {seconds: secs, otherCpuS: other, otherCores: secs > 0 ? other / secs : 0}
}
