import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'
import {VeloError} from '../../util/errors.js'

export default class RefDelete extends BaseCommand {
  static override summary = 'Delete a ref'
  static override description = 'Removes the ref; its reflog keeps the history (and keeps the snapshots from gc until the reflog expires).'
  static override examples = ['<%= config.bin %> ref delete app/old']
  static override args = {name: Args.string({description: 'ref name', required: true})}

  async run(): Promise<{name: string; old: string}> {
    const {args, flags} = await this.parse(RefDelete)
    const repo = this.openRepo(flags.repo)
    const old = repo.refs.read(args.name)
    if (!old) throw new VeloError('ERR_VELO_NOT_FOUND', `no ref named ${args.name}`, {hint: 'list refs with velo ref list'})
    repo.refs.update(args.name, {to: null, expect: old, command: 'ref delete', onWarning: this.onWarning})
    if (!this.jsonEnabled()) this.out(`deleted ${args.name} (was ${old})`)
    return {name: args.name, old}
  }
}
