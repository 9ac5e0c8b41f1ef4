import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'
import type {Oid} from '../../objects/oid.js'

export default class RefSet extends BaseCommand {
  static override summary = 'Point a ref at a snapshot'
  static override description = 'Sets NAME to REV (compare-and-swap with --expect). The move is recorded in the reflog.'
  static override examples = ['<%= config.bin %> ref set app/stable app/deps~2', '<%= config.bin %> ref set app/deps 3f2a --expect 9c1d']
  static override args = {
    name: Args.string({description: 'ref name', required: true}),
    rev: Args.string({description: 'snapshot', required: true}),
  }
  static override flags = {expect: Flags.string({description: 'only if the ref currently points at this revision'})}

  async run(): Promise<{name: string; old: string | null; new: string}> {
    const {args, flags} = await this.parse(RefSet)
    const repo = this.openRepo(flags.repo)
    const to = repo.resolve(args.rev)
    const old = repo.refs.read(args.name) ?? null
    const expect: Oid | null | undefined = flags.expect === undefined ? undefined : repo.resolve(flags.expect)
    repo.refs.update(args.name, {to, expect: expect === undefined ? old : expect, command: 'ref set', onWarning: this.onWarning})
    if (!this.jsonEnabled()) this.out(`${args.name} -> ${to}`)
    return {name: args.name, old, new: to}
  }
}
