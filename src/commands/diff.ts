import {Args, Flags} from '@oclif/core'
import {diff, type DiffResult} from '../api/diff.js'
import {diffRun} from '../api/diffRun.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {scanUpdate} from '../cli/progressUpdates.js'
import {isRun} from '../run/readRun.js'

export default class Diff extends BaseCommand {
  static override summary = 'List changed paths between snapshots, or a snapshot and a directory'
  static override description = `Prints one line per changed path, as git diff --name-status: A added, M modified, D deleted, T type changed, a tab, the path. Nothing is printed when the trees are equal.
With one REV: what it changed relative to its parent; with one RUN (velo run): what the run changed, from its input to its output. With REV and a directory: the directory as it is now (unchanged files are recognised by the stat cache; nothing is stored).`
  static override examples = ['<%= config.bin %> diff app/deps~1 app/deps', '<%= config.bin %> diff app/deps ./node_modules --stat', '<%= config.bin %> diff app/deps', '<%= config.bin %> diff agent~1']
  static override args = {
    a: Args.string({description: 'snapshot', required: true}),
    b: Args.string({description: 'snapshot or directory'}),
  }
  static override flags = {stat: Flags.boolean({description: 'print counts per status instead of paths'})}

  async run(): Promise<DiffResult & {stat: Record<string, number>}> {
    const {args, flags} = await this.parse(Diff)
    const repo = this.openRepo(flags.repo)
    const r = args.b === undefined ? (isRun(repo, args.a) ? diffRun(repo, args.a) : await diff(repo, args.a)) : await this.withProgress((p) => diff(repo, args.a, args.b, {onProgress: (x) => p.update(scanUpdate(x))}))
    const stat: Record<string, number> = {A: 0, M: 0, D: 0, T: 0}
    for (const c of r.changes) stat[c.status]++
    if (!this.jsonEnabled()) {
      if (flags.stat) {
        if (r.changes.length > 0) this.out(`${r.changes.length} paths changed: ${stat.A} added, ${stat.M} modified, ${stat.D} deleted, ${stat.T} type changed`)
      } else {
        const lines = r.changes.map((c) => `${c.status}\t${c.path}`)
        if (lines.length) process.stdout.write(lines.join('\n') + '\n')
      }
    }
    return {...r, stat}
  }
}
