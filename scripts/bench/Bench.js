// The measurement core: runs whole commands under GNU time, records every sample per row and
// round, and computes medians and per-round ratios.
//
// A group (scripts/bench/groups/*.js) declares its rows and measures them once per round:
//   rows: [{id, label, vs?, target?, unit?}]   (unit absent = a timed row, in seconds)
//   b.time(id, cmd)        time a bash command (wall: hrtime around the whole process tree,
//                          GNU time and bash start-up included; CPU and peak RSS from GNU time)
//   b.value(id, number)    record a non-time value (sizes, counts)
//   b.scratch(name)        a fresh path for this round and group under the work dir
// A row with `vs` gets a ratio: the median over rounds of (this row / the vs row) measured in the
// same round. A `target` ({max, text}) applies to that ratio, or to the value for rows without vs.
// A row with `derived: otherId` is not measured: it shows otherId's samples against its own `vs`.
import {spawnSync} from 'node:child_process'
import {appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {log, median, q, sh} from './sh.js'

export class StepFailed extends Error {}

/** The user interrupted the run (Ctrl-C reaches the child first; GNU time then exits 128+signal). */
export class Interrupted extends Error {}

export function interruptedBy(r) {
  return r.signal === 'SIGINT' || r.signal === 'SIGTERM' || r.status === 130 || r.status === 143
}

export class Bench {
  constructor({groups, work, logFile, env, velo, tree, big, projectRoot}) {
    this.groups = groups
    this.work = work
    this.logFile = logFile
    this.env = env
    this.velo = velo
    this.tree = tree
    this.big = big
    this.projectRoot = projectRoot
    this.rows = new Map()
    for (const g of groups) for (const r of g.rows) this.rows.set(r.id, {...r, group: g.name, rounds: new Map()})
    this.round = 0
    this.group = undefined
    this.checks = []
    this.tmp = mkdtempSync(join(tmpdir(), 'velo-bench-time-'))
  }

  q(s) {
    return q(s)
  }

  /** Untimed helper command (same environment as the timed ones). */
  sh(cmd, opts = {}) {
    this.note(`untimed: ${cmd}`)
    return sh(cmd, {env: this.env, ...opts})
  }

  note(text) {
    appendFileSync(this.logFile, `${text}\n`)
  }

  scratch(name) {
    const dir = join(this.work, `r${this.round}`, this.group.name)
    mkdirSync(dir, {recursive: true})
    const p = join(dir, name)
    rmSync(p, {recursive: true, force: true})
    return p
  }

  row(id) {
    const r = this.rows.get(id)
    if (!r) throw new Error(`row ${id} is not declared by any selected group`)
    return r
  }

  /** Records one sample of a row in the current round. */
  record(id, sample) {
    const r = this.row(id)
    const list = r.rounds.get(this.round) ?? []
    list.push(sample)
    r.rounds.set(this.round, list)
  }

  /**
   * Times `cmd` (bash). Runs `sync` first (untimed). Throws StepFailed on a non-zero exit, which
   * ends the group's round. Returns {wall, user, sys, rssKiB, stdout}.
   */
  time(id, cmd, {record = true} = {}) {
    this.row(id)
    spawnSync('sync')
    const tf = join(this.tmp, 'time')
    rmSync(tf, {force: true})
    const t0 = process.hrtime.bigint()
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', '-o', tf, 'bash', '-c', cmd], {
      env: this.env,
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const wall = Number(process.hrtime.bigint() - t0) / 1e9
    if (interruptedBy(r)) throw new Interrupted(`interrupted during ${id}`)
    let user, sys, rssKiB
    try {
      ;[user, sys, rssKiB] = readFileSync(tf, 'utf8').trim().split('\n').pop().split(' ').map(Number)
    } catch {
      // GNU time could not write its report: leave CPU and RSS undefined
    }
    this.note(`### r${this.round} ${id} (${wall.toFixed(3)} s, exit ${r.status}): ${cmd}\n${tail(r.stdout, 20)}${tail(r.stderr, 20)}`)
    if (r.error || r.status !== 0) {
      const msg = `${id} failed (exit ${r.status ?? r.error?.message}): ${tail(r.stderr, 3).trim() || cmd}`
      this.record(id, {failed: true, rc: r.status, error: msg})
      throw new StepFailed(msg)
    }
    const sample = {wall, user, sys, rssKiB}
    if (record) this.record(id, sample)
    log(`  r${this.round} ${id}: ${wall.toFixed(3)} s${rssKiB ? `, ${(rssKiB / 1024).toFixed(0)} MiB RSS` : ''}`)
    return {...sample, stdout: r.stdout}
  }

  value(id, v, extra = {}) {
    this.record(id, {value: v, ...extra})
    const r = this.row(id)
    log(`  r${this.round} ${id}: ${fmtNum(v)}${r.unit ? ` ${r.unit}` : ''}`)
  }

  /** A correctness check of the benchmark itself (file counts, hashedFiles = 0, ...). */
  check(name, ok, detail) {
    this.checks.push({round: this.round, group: this.group?.name, name, ok, detail})
    if (!ok) log(`  !! check failed: ${name}: ${detail}`)
  }

  /** Per-row statistics over rounds. */
  summarize() {
    const out = []
    for (const r of this.rows.values()) {
      const perRound = new Map()
      const rounds = []
      // A `derived` row shows another row's samples against a second reference.
      const src = r.derived ? this.rows.get(r.derived) ?? r : r
      for (const [round, samples] of src.rounds) {
        const ok = samples.filter((s) => !s.failed)
        const failed = samples.length - ok.length
        const v = median(ok.map((s) => (r.unit ? s.value : s.wall)))
        if (v !== undefined) perRound.set(round, v)
        rounds.push({
          round,
          value: v,
          samples: ok.map((s) => (r.unit ? s.value : s.wall)),
          user: median(ok.map((s) => s.user)),
          sys: median(ok.map((s) => s.sys)),
          rssKiB: median(ok.map((s) => s.rssKiB)),
          failed,
          errors: samples.filter((s) => s.failed).map((s) => s.error),
        })
      }
      const vals = [...perRound.values()]
      const cpu = median(rounds.map((x) => (x.user ?? NaN) + (x.sys ?? NaN)))
      const rss = median(rounds.map((x) => x.rssKiB ?? NaN))
      out.push({id: r.id, group: r.group, label: r.label, unit: r.unit ?? 's', vs: r.vs, target: r.target, rounds, perRound, median: median(vals), min: vals.length ? Math.min(...vals) : undefined, max: vals.length ? Math.max(...vals) : undefined, cpu, rssMiB: rss === undefined ? undefined : rss / 1024, n: vals.length, failed: rounds.reduce((a, x) => a + x.failed, 0)})
    }
    const byId = new Map(out.map((x) => [x.id, x]))
    for (const x of out) {
      if (x.vs) {
        const ref = byId.get(x.vs)
        const ratios = []
        if (ref) for (const [round, v] of x.perRound) if (ref.perRound.get(round) > 0) ratios.push({round, ratio: v / ref.perRound.get(round)})
        const vsRow = this.rows.get(x.vs)
        x.ratio = {vs: x.vs, vsLabel: vsRow?.short ?? vsRow?.label ?? x.vs, perRound: ratios, median: median(ratios.map((y) => y.ratio))}
      }
      if (x.target) {
        const measured = x.vs ? x.ratio?.median : x.median
        x.result = measured === undefined ? 'n/a' : measured <= x.target.max ? 'PASS' : 'FAIL'
      }
    }
    for (const x of out) x.perRound = Object.fromEntries(x.perRound)
    return out
  }

  close() {
    rmSync(this.tmp, {recursive: true, force: true})
  }
}

function tail(s, n) {
  if (!s) return ''
  const lines = s.trimEnd().split('\n')
  return (lines.length > n ? [`... (${lines.length - n} more lines)`, ...lines.slice(-n)] : lines).join('\n') + '\n'
}

export function fmtNum(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '-'
  if (Number.isInteger(v)) return String(v)
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)
}
