import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/BaseCommand.js'
import {runSnapshot} from '../cli/snapshotCli.js'

export default class Snapshot extends BaseCommand {
  static override summary = 'Record a directory as a snapshot and move its ref'
  static override description = `Hashes DIR into content-addressed objects (BLAKE3), stores new contents once in packs, records a snapshot and moves the ref to it. Unchanged files are not read again (stat cache).
Without --ref the ref is named after the directory: its base name and 8 hex digits of its absolute path's hash (e.g. node_modules-3f2a9c1d).
The last line of output is the new snapshot's id.`
  static override examples = [
    '<%= config.bin %> snapshot node_modules',
    '<%= config.bin %> snapshot . --ref app/deps -m "after npm ci"',
    '<%= config.bin %> snapshot build --json',
  ]
  static override args = {dir: Args.string({description: 'directory to snapshot', default: '.'})}
  static override flags = {
    ref: Flags.string({description: 'ref to move (e.g. app/deps)'}),
    message: Flags.string({char: 'm', description: 'message to record'}),
    meta: Flags.string({description: 'KEY=VALUE metadata to record (repeatable)', multiple: true}),
    'skip-unreadable': Flags.boolean({description: 'leave out unreadable files with a warning (exit code 3)'}),
    sign: Flags.boolean({description: 'sign the snapshot with the repository key (velo key generate)'}),
    quiet: Flags.boolean({char: 'q', description: 'no progress output'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Snapshot)
    process.exitCode = await runSnapshot({
      dir: args.dir,
      repo: flags.repo,
      ref: flags.ref,
      message: flags.message,
      meta: flags.meta ?? [],
      skipUnreadable: flags['skip-unreadable'],
      sign: flags.sign,
      json: this.jsonEnabled(),
      quiet: flags.quiet,
    })
  }
}
