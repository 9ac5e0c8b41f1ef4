import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/BaseCommand.js'
import {humanBytes} from '../cli/output.js'
import {fsck, type FsckProblem, type FsckResult} from '../maintenance/fsck.js'
import {parseDuration} from '../maintenance/parseDuration.js'
import {repairRepository, type RepairResult} from '../maintenance/repair.js'
import {withRepoLock} from '../repo/RepoLock.js'
import {ExitCode, VeloError} from '../util/errors.js'

export default class Fsck extends BaseCommand {
  static override summary = 'Verify the repository: packs, indexes, every object, and that refs lead to complete trees'
  static override description = `Checks every pack's trailer checksum and index, every object's BLAKE3 (chunked files also as a whole), and that every ref and reflog entry leads to a snapshot whose tree is complete. Each problem names the object, its pack and what refers to it; any problem means exit code 13.
--max-duration verifies the least recently verified packs first and stops after D (progress is remembered), so that short regular runs cover the whole repository.
--repair salvages damaged packs (rebuilding lost or damaged indexes, keeping every object that still verifies; the damaged files are moved to <repo>/quarantine/), and with --from fetches missing or damaged objects from a remote that has them.`
  static override examples = [
    '<%= config.bin %> fsck',
    '<%= config.bin %> fsck --max-duration 10m',
    '<%= config.bin %> fsck --repair --from origin',
    '<%= config.bin %> fsck --repair --from /mnt/backup/velo --json',
  ]
  static override flags = {
    'max-duration': Flags.string({description: 'stop verifying packs after this long, e.g. 30s, 10m (the rest is checked next time)'}),
    repair: Flags.boolean({description: 'salvage damaged packs and, with --from, fetch missing objects'}),
    from: Flags.string({description: 'remote (name, directory or URL) to fetch missing or damaged objects from', dependsOn: ['repair']}),
  }

  async run(): Promise<FsckResult | RepairResult> {
    const {flags} = await this.parse(Fsck)
    const repo = this.openRepo(flags.repo)
    if (flags.repair) {
      if (flags['max-duration']) throw new VeloError('ERR_VELO_USAGE', '--repair checks everything: it cannot be combined with --max-duration')
      const root = repo.root
      repo.close()
      const r = await repairRepository(root, {from: flags.from, onWarning: this.onWarning})
      if (!this.jsonEnabled()) this.renderRepair(r)
      if (!r.ok) process.exitCode = ExitCode.corrupt
      return r
    }
    try {
      const maxDurationMs = flags['max-duration'] ? parseDuration(flags['max-duration'], '--max-duration') : undefined
      // Shared lock: no gc or repack removes a pack while it is being checked.
      const r = await this.withProgress((p) =>
        withRepoLock(repo, 'shared', 'fsck', () => fsck(repo, {maxDurationMs, onProgress: (x) => p.update({phase: x.phase, done: x.done, total: x.total, unit: x.phase})}), {onWarning: this.onWarning}),
      )
      if (!this.jsonEnabled()) this.render(r)
      if (!r.ok) process.exitCode = ExitCode.corrupt
      return r
    } finally {
      repo.close()
    }
  }

  private render(r: FsckResult): void {
    for (const w of r.warnings) this.out(`warning: ${w}`)
    for (const p of r.problems.slice(0, 200)) this.out(problemLine(p))
    if (r.problems.length > 200) this.out(`... and ${r.problems.length - 200} more problems (see --json)`)
    const scope = r.complete ? `${r.packs.verified} packs` : `${r.packs.verified} of ${r.packs.total} packs (the rest next time)`
    this.out(`checked ${scope}, ${r.objects.verified} objects (${humanBytes(r.objects.bytes)}), ${r.refs} refs, ${r.reflogEntries} reflog entries: ${r.ok ? 'no problems' : `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`}`)
  }

  private renderRepair(r: RepairResult): void {
    if (r.before.ok && r.before.warnings.length === 0) {
      this.out('no problems: nothing to repair')
      return
    }
    for (const n of r.rebuiltIndexes) this.out(`rebuilt the index of pack ${n}`)
    for (const s of r.salvaged) this.out(`salvaged ${s.objects} objects of pack ${s.pack} into ${s.newPacks.join(', ') || 'no new pack'} (${s.lost} lost)`)
    if (r.quarantine) this.out(`moved ${r.quarantined.length} damaged files to ${r.quarantine}`)
    if (r.fetched.from) this.out(`fetched ${r.fetched.objects} objects (${humanBytes(r.fetched.bytes)}) from ${r.fetched.from}`)
    for (const p of r.after.problems.slice(0, 50)) this.out(problemLine(p))
    this.out(r.ok ? 'repaired: fsck finds no problems' : `${r.after.problems.length} problems remain${r.unrecoverable.length ? ` (${r.unrecoverable.length} needed objects are nowhere to be found${r.fetched.from ? '' : '; try --from REMOTE'})` : ''}`)
  }
}

function problemLine(p: FsckProblem): string {
  const refs = p.referencedBy?.length ? `; referenced by ${p.referencedBy.join('; ')}` : ''
  return `error: ${p.message}${refs}`
}
