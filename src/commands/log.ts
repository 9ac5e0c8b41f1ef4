import {Args, Flags} from '@oclif/core'
import {log, type LogEntry} from '../api/log.js'
import {BaseCommand} from '../cli/BaseCommand.js'

export default class Log extends BaseCommand {
  static override summary = 'Show the history of a ref'
  static override description = 'Lists snapshots from REV back along first parents, newest first. Without REV, the snapshots of every ref.'
  static override examples = ['<%= config.bin %> log app/deps', '<%= config.bin %> log -n 5 --json']
  static override args = {rev: Args.string({description: 'ref or snapshot to start from'})}
  static override flags = {limit: Flags.integer({char: 'n', description: 'show at most N snapshots'})}

  async run(): Promise<LogEntry[]> {
    const {args, flags} = await this.parse(Log)
    const repo = this.openRepo(flags.repo)
    const entries = log(repo, {rev: args.rev, limit: flags.limit})
    if (!this.jsonEnabled()) {
      for (const e of entries) {
        const refs = e.refs.length ? ` (${e.refs.join(', ')})` : ''
        this.out(`${e.id.slice(0, 12)}${refs}  ${e.time}  ${e.user}@${e.host}${e.message ? `  ${e.message.split('\n')[0]}` : ''}`)
      }
    }
    return entries
  }
}
