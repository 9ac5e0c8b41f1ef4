import {Args} from '@oclif/core'
import {toLogEntry, type LogEntry} from '../api/log.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {humanBytes} from '../cli/output.js'

export default class Show extends BaseCommand {
  static override summary = 'Show one snapshot'
  static override examples = ['<%= config.bin %> show app/deps', '<%= config.bin %> show 3f2a9c1d --json']
  static override args = {rev: Args.string({description: 'snapshot', required: true})}

  async run(): Promise<LogEntry & {files: number; bytes: number}> {
    const {args, flags} = await this.parse(Show)
    const repo = this.openRepo(flags.repo)
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
