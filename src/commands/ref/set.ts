import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'
import type {Oid} from '../../objects/oid.js'
import {withRepoLock} from '../../repo/RepoLock.js'

export default class RefSet extends BaseCommand {
  static override summary = 'Point a ref at a snapshot or a run'
  static override description = 'Sets NAME to REV (compare-and-swap with --expect): a snapshot, or a run record (velo run), which the ref then holds as its latest run (velo log --runs NAME, velo replay NAME, and the next velo run --ref NAME continues that chain). The move is recorded in the reflog.'
  static override examples = ['<%= config.bin %> ref set app/stable app/deps~2', '<%= config.bin %> ref set app/deps 3f2a --expect 9c1d', '<%= config.bin %> ref set runs/good agent~1']
  static override args = {
    name: Args.string({description: 'ref name', required: true}),
    rev: Args.string({description: 'snapshot or run', required: true}),
  }
  static override flags = {expect: Flags.string({description: 'only if the ref currently points at this revision'})}

  async run(): Promise<{name: string; old: string | null; new: string}> {
    const {args, flags} = await this.parse(RefSet)
    const repo = this.openRepo(flags.repo)
    // Shared lock: a gc running now could otherwise delete the (unreachable) snapshot the ref is set to.
    const {to, old} = await withRepoLock(repo, 'shared', 'ref set', () => {
      const to = repo.resolve(args.rev)
      const old = repo.refs.read(args.name) ?? null
      const expect: Oid | null | undefined = flags.expect === undefined ? undefined : repo.resolve(flags.expect)
      repo.refs.update(args.name, {to, expect: expect === undefined ? old : expect, command: 'ref set', onWarning: this.onWarning})
      return {to, old}
    }, {onWarning: this.onWarning})
    if (!this.jsonEnabled()) this.out(`${args.name} -> ${to}`)
    return {name: args.name, old, new: to}
  }
}
