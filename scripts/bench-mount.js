#!/usr/bin/env node
// Benchmark of `velo checkout` mounts (issue 4) on a directory tree, e.g. an npm node_modules:
//   node scripts/bench-mount.js DIR [--repo REPO] [--rounds N] [--keep]
// Measures, with the built CLI (npm run build first):
//   - mount latency: from starting `velo checkout` until `ls` of the deepest file succeeds;
//   - reading every file through the mount (find | xargs cat), first and second pass, against the
//     same command on DIR itself (page cache warm), on a writable and on a read-only mount;
//   - `velo snapshot MNT` after changing 10 files in the overlay (and `velo diff REV MNT`).
// Prints one JSON object. Medians of N rounds where a round is cheap (latency, raw read).
import {execFileSync, spawnSync} from 'node:child_process'
import {appendFileSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {availableParallelism, loadavg, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const {values, positionals} = parseArgs({
  allowPositionals: true,
  options: {repo: {type: 'string'}, rounds: {type: 'string'}, keep: {type: 'boolean'}},
})
if (positionals.length !== 1) {
  process.stderr.write('usage: node scripts/bench-mount.js DIR [--repo REPO] [--rounds N] [--keep]\n')
  process.exit(2)
}
const dir = resolve(positionals[0])
const rounds = Number(values.rounds ?? 5)
const work = mkdtempSync(join(tmpdir(), 'velo-bench-mount-'))
const repo = resolve(values.repo ?? join(work, 'repo'))
const env = {...process.env, VELO_FSYNC: '0', NO_COLOR: '1'}

const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100)
const now = () => Number(process.hrtime.bigint()) / 1e9
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const r3 = (x) => Math.round(x * 1000) / 1000

function velo(args, opts = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args, '--repo', repo], {env, encoding: 'utf8', maxBuffer: 64 << 20, ...opts})
  if (r.status !== 0) throw new Error(`velo ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

/** CPU seconds (user + system) a process has used so far (clock ticks of 1/100 s). */
function cpuOf(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return (Number(rest[11]) + Number(rest[12])) / 100
}

function timed(fn) {
  const t = now()
  fn()
  return now() - t
}

function readAll(root) {
  execFileSync('sh', ['-c', 'find "$1" -type f -print0 | xargs -0 cat > /dev/null', 'sh', root], {stdio: 'ignore'})
}

/** Files, bytes and the deepest file (most path components, then longest) below root. */
function survey(root) {
  let files = 0
  let bytes = 0
  let deepest = ''
  let depth = -1
  const rec = (abs, rel, d) => {
    for (const name of readdirSync(abs)) {
      const p = join(abs, name)
      const r = rel ? `${rel}/${name}` : name
      const st = lstatSync(p)
      if (st.isDirectory()) rec(p, r, d + 1)
      else if (st.isFile()) {
        files++
        bytes += st.size
        if (d > depth || (d === depth && r.length > deepest.length)) {
          depth = d
          deepest = r
        }
      }
    }
  }
  rec(root, '', 0)
  return {files, bytes, deepest}
}

let n = 0
function freshMount() {
  const m = join(work, `m${n++}`)
  mkdirSync(m)
  return m
}

const cleanup = []
try {
  const corpus = survey(dir)
  const tSnap = timed(() => velo(['snapshot', dir, '--ref', 'bench-mount']))

  // 1. mount latency
  const latency = []
  for (let i = 0; i < rounds; i++) {
    const m = freshMount()
    const t = now()
    velo(['checkout', 'bench-mount', m])
    execFileSync('ls', ['-l', join(m, corpus.deepest)], {stdio: 'ignore'})
    latency.push(now() - t)
    velo(['unmount', m, '--discard'])
  }

  // 2. read passes: raw (warm) vs through a mount, writable and read-only
  readAll(dir)
  const raw = []
  for (let i = 0; i < Math.max(3, Math.min(rounds, 5)); i++) raw.push(timed(() => readAll(dir)))
  const passes = {}
  for (const mode of ['rw', 'ro']) {
    const m = freshMount()
    const rec = JSON.parse(velo(['checkout', 'bench-mount', m, '--json', ...(mode === 'ro' ? ['--read-only'] : [])]))
    cleanup.push(m)
    // The server's CPU time per pass: what the mount costs, whatever else the machine runs.
    const c0 = cpuOf(rec.pid)
    const first = timed(() => readAll(m))
    const c1 = cpuOf(rec.pid)
    const second = timed(() => readAll(m))
    const c2 = cpuOf(rec.pid)
    const third = timed(() => readAll(m))
    const c3 = cpuOf(rec.pid)
    passes[mode] = {first: r3(first), second: r3(second), third: r3(third), serverCpuS: {first: r3(c1 - c0), second: r3(c2 - c1), third: r3(c3 - c2)}}
    velo(['unmount', m, '--discard'])
    cleanup.pop()
  }

  // 3. velo snapshot MNT after changing 10 files
  const m = freshMount()
  velo(['checkout', 'bench-mount', m])
  cleanup.push(m)
  const files = []
  const pick = (abs, rel) => {
    for (const name of readdirSync(abs).sort()) {
      if (files.length >= 10) return
      const p = join(abs, name)
      const st = lstatSync(p)
      if (st.isDirectory()) pick(p, `${rel}/${name}`)
      else if (st.isFile() && st.size < 1 << 20) files.push(`${rel}/${name}`)
    }
  }
  pick(dir, '')
  // the first 10 files (under 1 MiB) in name order
  for (const f of files) appendFileSync(join(m, f), '\n// changed by bench-mount\n')
  const tSnapMnt = timed(() => velo(['snapshot', m, '--ref', 'bench-mount-changed']))
  const tDiffMnt = timed(() => velo(['diff', 'bench-mount', m]))
  const changed = velo(['diff', 'bench-mount', 'bench-mount-changed']).trim().split('\n').length
  velo(['unmount', m, '--discard'])
  cleanup.pop()

  const rawMed = median(raw)
  const out = {
    corpus: {dir, files: corpus.files, bytes: corpus.bytes, deepest: corpus.deepest},
    // Other work on the machine shows in the load averages (at the start and at the end).
    machine: {cores: availableParallelism(), loadavgAtStart: loadAtStart, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100)},
    setupSnapshotS: r3(tSnap),
    mountLatencyS: {median: r3(median(latency)), runs: latency.map(r3)},
    rawReadS: {median: r3(rawMed), runs: raw.map(r3)},
    mountReadS: passes,
    readRatio: {
      rw: {first: r3(passes.rw.first / rawMed), second: r3(passes.rw.second / rawMed), third: r3(passes.rw.third / rawMed)},
      ro: {first: r3(passes.ro.first / rawMed), second: r3(passes.ro.second / rawMed), third: r3(passes.ro.third / rawMed)},
    },
    snapshotMountAfter10ChangesS: r3(tSnapMnt),
    diffMountS: r3(tDiffMnt),
    changedPaths: changed,
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n')
} finally {
  for (const m of cleanup) spawnSync(process.execPath, [BIN, 'unmount', m, '--force', '--repo', repo], {env, stdio: 'ignore'})
  if (!values.keep) rmSync(work, {recursive: true, force: true})
}
