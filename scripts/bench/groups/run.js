// `velo run -- true` on the npm tree when nothing changed since the last snapshot (issue 6 target:
// <= 0.3 s), next to what bounds it, alternated REPEAT times per round (short and noisy commands):
//   velo snapshot DIR, unchanged      the stat walk every `run --in DIR` pays first
//   velo run --in DIR -- true         the default: input re-snapshotted, a mount of it, the command,
//                                     the output (the input itself when nothing changed), the record
//   velo run --in REV -- true         input already recorded: mount, command, output, record
// plus velo run's own phases (from its --json summary `timings`, medians in ms) for the DIR row.
// A scratch repository with one snapshot of the tree is made once (setup, untimed).
import {lastJson} from './velo.js'

const REPEAT = 3
const PHASES = ['input', 'checkout', 'command', 'output', 'record']

export default {
  name: 'run',
  title: 'velo run overhead (npm tree, unchanged)',
  corpus: 'npm',
  rows: [
    {id: 'run.snapshot.nochange', label: 'velo snapshot DIR, unchanged (reference)', short: 'snapshot, unchanged'},
    {id: 'run.dir', label: 'velo run --in DIR -- true', target: {max: 0.3, text: '<= 0.3 s'}},
    {id: 'run.dir.over', label: 'velo run --in DIR -- true', derived: 'run.dir', vs: 'run.snapshot.nochange'},
    {id: 'run.rev', label: 'velo run --in REV -- true'},
    ...PHASES.map((p) => ({id: `run.phase.${p}`, label: `  run --in DIR: ${p} phase`, unit: 'ms'})),
  ],
  setup(b) {
    this.repo = b.scratch('repo')
    const v = `VELO_REPO=${b.q(this.repo)} ${b.velo}`
    b.sh(`${v} snapshot ${b.q(b.tree)} --ref c -q`)
    // Warm-up of each path measured below (first mount, first run on each ref).
    b.sh(`${v} run -q --in ${b.q(b.tree)} --ref r/dir -- true && ${v} run -q --in c --ref r/rev -- true`)
  },
  round(b) {
    const v = `VELO_REPO=${b.q(this.repo)} ${b.velo}`
    const phases = Object.fromEntries(PHASES.map((p) => [p, []]))
    for (let i = 0; i < REPEAT; i++) {
      b.time('run.snapshot.nochange', `${v} snapshot ${b.q(b.tree)} --ref c -q`)
      const dir = lastJson(b.time('run.dir', `${v} run --json --in ${b.q(b.tree)} --ref r/dir -- true`).stdout)
      b.check('run --in DIR: unchanged output is the input', dir.record.output === dir.record.input, `${dir.record.output} vs ${dir.record.input}`)
      for (const p of PHASES) phases[p].push(dir.timings[p])
      b.time('run.rev', `${v} run -q --in c --ref r/rev -- true`)
    }
    for (const p of PHASES) b.value(`run.phase.${p}`, phases[p].sort((x, y) => x - y)[Math.floor(REPEAT / 2)])
  },
}
