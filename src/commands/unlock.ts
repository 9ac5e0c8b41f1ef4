import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/BaseCommand.js'
import {unlockRepo, type UnlockResult} from '../repo/RepoLock.js'
import {parseDuration} from '../maintenance/parseDuration.js'

export default class Unlock extends BaseCommand {
  static override summary = 'Remove stale repository locks'
  static override description = `Removes repository locks whose process is gone: those of dead processes on this host (other commands also break these by themselves) and those of other hosts that were not refreshed for --stale-after (default 30m; a running velo refreshes its lock every minute). Locks of live processes are listed and kept, unless --force.`
  static override examples = ['<%= config.bin %> unlock', '<%= config.bin %> unlock --stale-after 10m', '<%= config.bin %> unlock --force --json']
  static override flags = {
    'stale-after': Flags.string({description: 'a lock of another host not refreshed for this long is stale', default: '30m'}),
    force: Flags.boolean({description: 'remove every lock, even of running processes (only when you know they are gone)'}),
  }

  async run(): Promise<UnlockResult> {
    const {flags} = await this.parse(Unlock)
    const repo = this.openRepo(flags.repo)
    const r = unlockRepo(repo.root, {force: flags.force, staleMs: parseDuration(flags['stale-after'], '--stale-after')})
    repo.close()
    if (!this.jsonEnabled()) {
      const who = (o: UnlockResult['removed'][number]['owner']): string => (o ? `process ${o.pid} on ${o.host} (${o.command}, since ${o.started})` : 'unknown holder')
      for (const x of r.removed) this.out(`removed ${x.file}: ${who(x.owner)}, ${x.state}`)
      for (const x of r.kept) this.out(`kept ${x.file}: ${who(x.owner)}: ${x.reason}`)
      if (r.removed.length === 0 && r.kept.length === 0) this.out('no locks')
    }
    return r
  }
}
