import {Args, Flags} from '@oclif/core'
import {pull, type PullResult} from '../api/pull.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {humanBytes} from '../cli/output.js'
import {transferUpdate} from '../remote/progress.js'

export default class Pull extends BaseCommand {
  static override summary = 'Fetch snapshots from a remote and fast-forward local refs'
  static override description = `Fetches REF (default: every ref of the remote) and every object it needs: its snapshot's history, trees and, unless --metadata-only, file contents. Everything is verified (BLAKE3) before it counts as present; a damaged remote object installs nothing.
Then updates the remote-tracking refs REMOTE/REF and fast-forwards the local REF (a local ref that has diverged is left alone and reported, exit 12, unless --force).
With --json: NDJSON progress events, then the result (type summary) or the error as the last line.`
  static override examples = [
    '<%= config.bin %> pull origin',
    '<%= config.bin %> pull origin app/deps --metadata-only',
    '<%= config.bin %> pull origin app/deps --force',
  ]
  static override strict = false
  static override args = {
    remote: Args.string({description: 'remote name (velo remote list)', required: true}),
    ref: Args.string({description: 'remote ref (repeatable; default: every ref)'}),
  }
  static override flags = {
    'metadata-only': Flags.boolean({description: 'fetch only snapshots and trees (contents come later, on demand)'}),
    force: Flags.boolean({char: 'f', description: 'move local refs that have diverged'}),
  }

  async run(): Promise<PullResult> {
    const {args, argv, flags} = await this.parse(Pull)
    const repo = this.openRepo(flags.repo)
    try {
      const r = await this.withProgress((p) =>
        pull(repo, {
          remote: args.remote, refs: (argv as string[]).slice(1), metadataOnly: flags['metadata-only'], force: flags.force,
          onProgress: (x) => p.update(transferUpdate(x)), onWarning: this.onWarning,
        }),
      )
      if (!this.jsonEnabled()) for (const l of renderPull(r)) this.out(l)
      return r
    } finally {
      repo.close()
    }
  }
}

export function renderPull(r: PullResult): string[] {
  const got = r.packs > 0 ? `${r.objects} objects in ${r.packs} packs, ${humanBytes(r.bytes)} in ${r.seconds.toFixed(1)} s` : 'nothing to fetch'
  const lines = r.refs.map((x) => {
    const local = x.status === 'up-to-date' ? 'up to date' : x.status === 'ahead' ? 'local ref is ahead, left as it is' : `${x.status}${x.old ? ` ${x.old.slice(0, 12)}..` : ' '}${x.remote.slice(0, 12)}`
    return `  ${r.remote}/${x.ref} ${x.remote.slice(0, 12)}; ${x.ref}: ${local}`
  })
  return [`pull from ${r.remote} (${r.url})${r.metadataOnly ? ' [metadata only]' : ''}: ${got}`, ...lines]
}
