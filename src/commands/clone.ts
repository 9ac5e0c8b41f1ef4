import {Args, Flags} from '@oclif/core'
import {clone, type CloneResult} from '../api/clone.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {transferUpdate} from '../remote/progress.js'
import {defaultRepoPath} from '../repo/Repository.js'
import {renderPull} from './pull.js'

export default class Clone extends BaseCommand {
  static override summary = 'Create a repository from a remote'
  static override description = `Creates a repository at PATH (default: --repo, $VELO_REPO, else ~/.velo; it must not exist yet, or be empty) with URL as the remote origin, and pulls every remote ref into a local ref of the same name.
With --json: NDJSON progress events, then the result (type summary) or the error as the last line.`
  static override examples = [
    '<%= config.bin %> clone s3://ci-cache/velo',
    '<%= config.bin %> clone s3://velo /srv/velo --endpoint http://127.0.0.1:7480 --metadata-only',
    '<%= config.bin %> clone /mnt/nas/velo ./repo',
  ]
  static override args = {
    url: Args.string({description: 's3://BUCKET/PREFIX, file:///PATH or a directory', required: true}),
    path: Args.string({description: 'where to create the repository'}),
  }
  static override flags = {
    origin: Flags.string({description: 'name of the remote', default: 'origin'}),
    endpoint: Flags.string({description: 'S3 endpoint URL (stored with the remote)'}),
    region: Flags.string({description: 'S3 region (stored with the remote)'}),
    'path-style': Flags.boolean({description: 'S3 path-style addressing', allowNo: true}),
    'metadata-only': Flags.boolean({description: 'fetch only snapshots and trees (contents come later, on demand)'}),
  }

  async run(): Promise<CloneResult> {
    const {args, flags} = await this.parse(Clone)
    const r = await this.withProgress((p) =>
      clone({
        url: args.url, path: args.path ?? defaultRepoPath(flags.repo), remoteName: flags.origin, endpoint: flags.endpoint,
        region: flags.region, pathStyle: flags['path-style'], metadataOnly: flags['metadata-only'], onProgress: (x) => p.update(transferUpdate(x)),
        onWarning: this.onWarning,
      }),
    )
    if (!this.jsonEnabled()) for (const l of [`cloned ${r.url} into ${r.path}`, ...renderPull(r.pull)]) this.out(l)
    return r
  }
}
