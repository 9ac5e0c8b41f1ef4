import {Args} from '@oclif/core'
import {initRepository, defaultRepoPath} from '../repo/Repository.js'
import {BaseCommand} from '../cli/BaseCommand.js'

export default class Init extends BaseCommand {
  static override summary = 'Create a repository'
  static override description = 'Creates a velo repository at PATH (default: --repo, $VELO_REPO, else ~/.velo). Refuses a non-empty directory that is not a repository; an existing repository is left as it is.'
  static override examples = ['<%= config.bin %> init', '<%= config.bin %> init /srv/velo']
  static override args = {path: Args.string({description: 'where to create the repository'})}

  async run(): Promise<{path: string; created: boolean}> {
    const {args, flags} = await this.parse(Init)
    const r = initRepository(args.path ?? defaultRepoPath(flags.repo))
    if (!this.jsonEnabled()) this.out(r.created ? `created repository ${r.path}` : `${r.path} is already a repository`)
    return r
  }
}
