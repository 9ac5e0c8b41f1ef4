import {BaseCommand} from '../../cli/BaseCommand.js'
import {listRemotes, type NamedRemote} from '../../remote/RemoteConfig.js'

export default class RemoteList extends BaseCommand {
  static override summary = 'List remotes'
  static override examples = ['<%= config.bin %> remote list', '<%= config.bin %> remote list --json']

  async run(): Promise<NamedRemote[]> {
    const {flags} = await this.parse(RemoteList)
    const remotes = listRemotes(this.openRepo(flags.repo))
    if (!this.jsonEnabled()) {
      for (const r of remotes) {
        const extra = [r.endpoint && `endpoint ${r.endpoint}`, r.region && `region ${r.region}`, r.pathStyle !== undefined && `path-style ${r.pathStyle}`].filter(Boolean)
        this.out(`${r.name}\t${r.url}${extra.length ? `\t(${extra.join(', ')})` : ''}`)
      }
    }
    return remotes
  }
}
