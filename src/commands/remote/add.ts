import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'
import {addRemote, type NamedRemote} from '../../remote/RemoteConfig.js'

export default class RemoteAdd extends BaseCommand {
  static override summary = 'Add a remote'
  static override description = `Records where a remote is: a directory (a path or file:///PATH) or an S3-compatible bucket (s3://BUCKET/PREFIX).
For S3, the endpoint, region, addressing style and credentials come from the usual AWS environment variables and config files (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE, ~/.aws/config, ~/.aws/credentials) and VELO_S3_ENDPOINT; --endpoint, --region and --path-style, stored with the remote, take precedence. Credentials are never stored.`
  static override examples = [
    '<%= config.bin %> remote add origin s3://ci-cache/velo',
    '<%= config.bin %> remote add ceph s3://velo --endpoint http://127.0.0.1:7480',
    '<%= config.bin %> remote add backup /mnt/nas/velo',
  ]
  static override args = {
    name: Args.string({description: 'remote name, e.g. origin', required: true}),
    url: Args.string({description: 's3://BUCKET/PREFIX, file:///PATH or a directory', required: true}),
  }
  static override flags = {
    endpoint: Flags.string({description: 'S3 endpoint URL (default: $VELO_S3_ENDPOINT, the AWS config, else AWS)'}),
    region: Flags.string({description: 'S3 region (default: $AWS_REGION, the AWS config, else us-east-1)'}),
    'path-style': Flags.boolean({description: 'S3 path-style addressing (default for custom endpoints)', allowNo: true}),
  }

  async run(): Promise<NamedRemote> {
    const {args, flags} = await this.parse(RemoteAdd)
    const repo = this.openRepo(flags.repo, true)
    const r = addRemote(repo, args.name, args.url, {endpoint: flags.endpoint, region: flags.region, pathStyle: flags['path-style']})
    if (!this.jsonEnabled()) this.out(`${r.name}\t${r.url}`)
    return r
  }
}
