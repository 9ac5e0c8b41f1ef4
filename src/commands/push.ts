import {Args, Flags} from '@oclif/core'
import {push, type PushResult} from '../api/push.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {humanBytes} from '../cli/output.js'
import {transferUpdate} from '../remote/progress.js'

export default class Push extends BaseCommand {
  static override summary = 'Send snapshots to a remote and move its refs'
  static override description = `Uploads what the remote lacks of each REF (its snapshot, the snapshot's history, trees and file contents; learned from the remote's pack indexes), then moves the remote ref with a conditional write. A ref that does not fast-forward is refused unless --force; of two pushes to one ref at the same time, one wins and the other fails with a conflict (exit 12).
REF is a local ref, pushed under the same name, or SRC:DST with SRC any revision. Without REF, every local ref is pushed.
With --json: NDJSON progress events, then the result (type summary) or the error as the last line.`
  static override examples = [
    '<%= config.bin %> push origin app/deps',
    '<%= config.bin %> push origin 3f2a9c1d:release/deps --force',
    '<%= config.bin %> push origin --json',
  ]
  static override strict = false
  static override args = {
    remote: Args.string({description: 'remote name (velo remote list)', required: true}),
    ref: Args.string({description: 'REF or SRC:DST (repeatable; default: every local ref)'}),
  }
  static override flags = {
    force: Flags.boolean({char: 'f', description: 'allow updates that are not fast-forwards'}),
  }

  async run(): Promise<PushResult> {
    const {args, argv, flags} = await this.parse(Push)
    const repo = this.openRepo(flags.repo)
    try {
      const refs = (argv as string[]).slice(1)
      const r = await this.withProgress((p) => push(repo, {remote: args.remote, refs, force: flags.force, onProgress: (x) => p.update(transferUpdate(x)), onWarning: this.onWarning}))
      if (!this.jsonEnabled()) for (const l of renderPush(r)) this.out(l)
      return r
    } finally {
      repo.close()
    }
  }
}

export function renderPush(r: PushResult): string[] {
  const lines = r.refs.map((x) => {
    if (x.status === 'up-to-date') return `  ${x.ref}: up to date (${x.new.slice(0, 12)})`
    const from = x.old ? `${x.old.slice(0, 12)}..` : ''
    return `  ${x.ref}: ${x.status} ${from}${x.new.slice(0, 12)}`
  })
  const sent = r.packs > 0 ? `${r.objects} objects in ${r.packs} packs, ${humanBytes(r.bytes)} in ${r.seconds.toFixed(1)} s` : 'nothing to send'
  return [`push to ${r.remote} (${r.url}): ${sent}`, ...lines]
}
