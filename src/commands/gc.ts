import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/BaseCommand.js'
import {humanBytes} from '../cli/output.js'
import {DEFAULT_REFLOG_EXPIRE_MS, explainObject, gc, type ExplainResult, type GcResult} from '../maintenance/gc.js'
import {parseDuration} from '../maintenance/parseDuration.js'
import {gcGraceMs} from '../repo/settings.js'

export default class Gc extends BaseCommand {
  static override summary = 'Delete unreachable objects older than a grace period'
  static override description = `Marks every object reachable from refs (remote-tracking refs too), reflog entries, live mounts and leases, and from every tree or snapshot written within the grace period, then deletes the other objects of packs older than the grace period (--prune, default: the gc.grace setting, 14 days; --prune now deletes every unreachable object). Packs that are all garbage are removed, packs with at least 10 % garbage rewritten. Leftover temporary files older than an hour go too.
gc holds the repository's exclusive lock: it waits for running snapshots to finish, and they wait for it.
--explain ID says why an object is kept (which ref, snapshot and path lead to it) or that it will be deleted.`
  static override examples = [
    '<%= config.bin %> gc',
    '<%= config.bin %> gc --prune now --dry-run',
    '<%= config.bin %> gc --explain 3f2a9c1d',
    '<%= config.bin %> gc --prune 3d --reflog-expire 30d --json',
  ]
  static override flags = {
    prune: Flags.string({description: 'grace period: unreachable objects younger than this are kept (now, 3d, 2w, never; default: the gc.grace setting, 14d)'}),
    'reflog-expire': Flags.string({description: 'reflog entries older than this are dropped and stop protecting snapshots (never, 30d, now)', default: '90d'}),
    'dry-run': Flags.boolean({description: 'report what would be deleted, change nothing'}),
    explain: Flags.string({description: 'say why the object ID (or id prefix, or ref) is kept, and do nothing else'}),
  }

  async run(): Promise<GcResult | ExplainResult> {
    const {flags} = await this.parse(Gc)
    const repo = this.openRepo(flags.repo)
    try {
      const pruneMs = flags.prune ? parseDuration(flags.prune, '--prune') : gcGraceMs(repo.config)
      const reflogExpireMs = flags['reflog-expire'] ? parseDuration(flags['reflog-expire'], '--reflog-expire') : DEFAULT_REFLOG_EXPIRE_MS
      if (flags.explain) {
        const r = explainObject(repo, repo.resolve(flags.explain), {pruneMs, reflogExpireMs})
        if (!this.jsonEnabled()) {
          this.out(`${r.id}${r.type ? ` (${r.type}, pack ${r.pack})` : ''}`)
          this.out(r.explanation)
        }
        return r
      }
      // gc's walk blocks the event loop: on a terminal the ink view is loaded first, so that it draws.
      const r = await this.withProgress((p) => gc(repo, {pruneMs, reflogExpireMs, dryRun: flags['dry-run'], onWarning: this.onWarning, onProgress: (x) => p.update({...x, unit: x.phase === 'mark' ? 'objects' : 'packs'})}), {eager: true})
      if (!this.jsonEnabled()) {
        const verb = r.dryRun ? 'would delete' : 'deleted'
        if (!r.walked) this.out(`nothing to delete: no pack is older than the grace period (--prune ${r.prune})`)
        else this.out(`${verb} ${r.deletedObjects} unreachable objects (${humanBytes(r.deletedBytes)}): ${r.removedPacks.length} packs removed, ${r.rewrittenPacks.length} rewritten; ${r.reachableObjects} objects reachable from ${r.roots.refs} refs, ${r.roots.reflogEntries} reflog entries, ${r.roots.mounts} mounts, ${r.roots.leases} leases`)
        if (r.keptGarbageObjects) this.out(`kept ${r.keptGarbageObjects} unreachable objects in packs that are mostly reachable`)
        if (r.removedOrphanPacks.length || r.removedTmpFiles) this.out(`${r.dryRun ? 'would remove' : 'removed'} ${r.removedOrphanPacks.length} unindexed packs and ${r.removedTmpFiles} temporary files`)
        if (r.expiredReflogEntries) this.out(`${r.dryRun ? 'would expire' : 'expired'} ${r.expiredReflogEntries} reflog entries`)
      }
      return r
    } finally {
      repo.close()
    }
  }
}
