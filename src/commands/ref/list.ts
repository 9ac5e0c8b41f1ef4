import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'

export default class RefList extends BaseCommand {
  static override summary = 'List refs'
  static override examples = ['<%= config.bin %> ref list', '<%= config.bin %> ref list app/ --json']
  static override args = {prefix: Args.string({description: 'only refs starting with this'})}

  async run(): Promise<{name: string; oid: string}[]> {
    const {args, flags} = await this.parse(RefList)
    const refs = this.openRepo(flags.repo).refs.list(args.prefix ?? '')
    if (!this.jsonEnabled()) for (const r of refs) this.out(`${r.oid}  ${r.name}`)
    return refs
  }
}
