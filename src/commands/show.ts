import {Args} from '@oclif/core'
import {toLogEntry, type LogEntry} from '../api/log.js'
import {showRun, type RunView} from '../api/showRun.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {humanBytes} from '../cli/output.js'
import {renderRunView} from '../cli/renderRunView.js'
import {isRun} from '../run/readRun.js'

export default class Show extends BaseCommand {
  static override summary = 'Show one snapshot or run'
  static override description = 'A run (velo run) shows its record: command, environment, working directory, exit status, times, input and output snapshots, stdout and stderr sizes, the files it accessed and its signature; RUN~N is the N-th previous run of its chain.'
  static override examples = ['<%= config.bin %> show app/deps', '<%= config.bin %> show 3f2a9c1d --json', '<%= config.bin %> show agent~1']
  static override args = {rev: Args.string({description: 'snapshot or run', required: true})}

  async run(): Promise<(LogEntry & {files: number; bytes: number}) | RunView> {
    const {args, flags} = await this.parse(Show)
    const repo = this.openRepo(flags.repo)
    if (isRun(repo, args.rev)) {
      const v = showRun(repo, args.rev)
      if (!this.jsonEnabled()) this.out(renderRunView(v))
      return v
    }
    const id = repo.resolveSnapshot(args.rev)
    const s = repo.readSnapshot(id)
    const refs = repo.refs.list().filter((r) => r.oid === id).map((r) => r.name)
    const root = repo.readTree(s.tree)
    const bytes = root.reduce((a, e) => a + (e.kind === 'symlink' ? 0 : e.size), 0)
    const e = {...toLogEntry(id, s, refs), files: root.length, bytes}
    if (!this.jsonEnabled()) {
      this.out(`snapshot ${id}${refs.length ? ` (${refs.join(', ')})` : ''}`)
      this.out(`tree     ${s.tree}`)
      for (const p of s.parents) this.out(`parent   ${p}`)
      this.out(`time     ${e.time}`)
      this.out(`by       ${s.user}@${s.host}`)
      this.out(`size     ${humanBytes(bytes)} in ${root.length} top-level entries`)
      for (const [k, v] of Object.entries(s.meta)) this.out(`meta     ${k}=${v}`)
      if (s.signature) this.out(`signed   ${s.signature.key}`)
      if (s.message) this.out(`\n    ${s.message.split('\n').join('\n    ')}`)
    }
    return e
  }
}
