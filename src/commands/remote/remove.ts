import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'
import {removeRemote} from '../../remote/RemoteConfig.js'

export default class RemoteRemove extends BaseCommand {
  static override summary = 'Remove a remote'
  static override description = 'Forgets the remote, its remote-tracking refs (NAME/…) and its cached indexes. Nothing on the remote itself changes.'
  static override examples = ['<%= config.bin %> remote remove origin']
  static override args = {name: Args.string({description: 'remote name', required: true})}

  async run(): Promise<{name: string; url: string; trackingRefs: number}> {
    const {args, flags} = await this.parse(RemoteRemove)
    const r = removeRemote(this.openRepo(flags.repo), args.name)
    if (!this.jsonEnabled()) this.out(`removed ${r.name} (${r.url})${r.trackingRefs ? `, ${r.trackingRefs} remote-tracking refs` : ''}`)
    return r
  }
}
