import {Args, Flags} from '@oclif/core'
import {log, type LogEntry} from '../api/log.js'
import {runLog, type RunLogEntry} from '../api/runLog.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {ObjectType} from '../pack/block.js'
import {isRun} from '../run/readRun.js'

export default class Log extends BaseCommand {
  static override summary = 'Show the history of a ref'
  static override description = `Lists snapshots from REV back along first parents, newest first. Without REV, the snapshots of every ref; refs whose latest entry is a run (velo run) are not snapshots and are not listed: a note on stderr names them and points at --runs. A run given as REV stands for its output snapshot (whose first parent is the run's input).
With --runs: the runs of REF (velo run) from its latest back along previous runs, or without REF the runs of every ref: id, time, exit status, command, input and output snapshots.`
  static override examples = ['<%= config.bin %> log app/deps', '<%= config.bin %> log -n 5 --json', '<%= config.bin %> log --runs agent']
  static override args = {rev: Args.string({description: 'ref or snapshot to start from (with --runs: ref or run)'})}
  static override flags = {
    limit: Flags.integer({char: 'n', description: 'show at most N snapshots'}),
    runs: Flags.boolean({description: 'list runs (velo run) instead of snapshots'}),
  }

  async run(): Promise<LogEntry[] | RunLogEntry[]> {
    const {args, flags} = await this.parse(Log)
    const repo = this.openRepo(flags.repo)
    if (flags.runs) {
      const runs = runLog(repo, {rev: args.rev, limit: flags.limit})
      if (!this.jsonEnabled()) {
        for (const r of runs) {
          const refs = r.refs.length ? ` (${r.refs.join(', ')})` : ''
          const how = r.interrupted ? 'interrupted' : r.signal ?? `exit ${r.exitCode}`
          this.out(`${r.id.slice(0, 12)}${refs}  ${r.time}  ${how}  ${r.input.slice(0, 12)} -> ${r.output.slice(0, 12)}${r.signed ? '  signed' : ''}  ${r.argv.join(' ')}`)
        }
      }
      return runs
    }
    const entries = log(repo, {rev: args.rev, limit: flags.limit})
    if (!this.jsonEnabled()) {
      for (const e of entries) {
        const refs = e.refs.length ? ` (${e.refs.join(', ')})` : ''
        this.out(`${e.id.slice(0, 12)}${refs}  ${e.time}  ${e.user}@${e.host}${e.message ? `  ${e.message.split('\n')[0]}` : ''}`)
      }
      // Runs are not snapshots: say where they are (on stderr, so that stdout stays a list of snapshots).
      if (args.rev === undefined) {
        const runRefs = repo.refs.list().filter((r) => repo.packs.typeOf(r.oid) === ObjectType.run).map((r) => r.name)
        if (runRefs.length > 0) {
          const shown = runRefs.length > 5 ? `${runRefs.slice(0, 5).join(', ')}, ...` : runRefs.join(', ')
          process.stderr.write(`velo: ${runRefs.length} ref${runRefs.length > 1 ? 's' : ''} hold${runRefs.length > 1 ? '' : 's'} runs, not listed here (${shown}): velo log --runs\n`)
        }
      } else if (isRun(repo, args.rev)) {
        process.stderr.write(`velo: ${args.rev} is a run: this is the history of its output snapshot; velo log --runs ${args.rev} lists its runs\n`)
      }
    }
    return entries
  }
}
