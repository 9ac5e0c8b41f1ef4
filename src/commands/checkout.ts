import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/BaseCommand.js'
import {runCheckout} from '../cli/checkoutCli.js'

export default class Checkout extends BaseCommand {
  static override summary = 'Mount a snapshot with a copy-on-write overlay (FUSE)'
  static override description = `Mounts snapshot REV at the empty directory MNT in milliseconds, without extracting it: files are read from the repository on demand. Changes (writes, deletions, renames, new files) go to an upper layer that belongs to this mount (--upper DIR, default inside the repository); the snapshot never changes. Mount the same --upper again to continue where it left off.
By default a background process serves the mount (its log is in the repository, see velo mounts) and the command returns once the mount answers; --foreground serves it from this process until SIGINT/SIGTERM.
REMOTE/REF mounts a remote's snapshot lazily: only its metadata is fetched before mounting (the ref is asked from the remote when it is not known here yet); file content is fetched on first read (range requests, verified, stored in the repository, so later reads and mounts are local), and the files an earlier mount of the same snapshot read are prefetched in the background. A failed fetch is an I/O error on that file and a line in the mount log (timeout: velo config set remote.timeout).
velo snapshot MNT records the mount as a new snapshot (its parent is the mounted one), velo diff REV MNT lists its changes, velo unmount MNT unmounts it. Needs FUSE: apt-get install libfuse2 fuse3.`
  static override examples = [
    '<%= config.bin %> checkout app/deps /tmp/deps',
    '<%= config.bin %> checkout app/deps ./node_modules --upper /tmp/deps-upper',
    '<%= config.bin %> checkout 3f2a9c1d /mnt/ro --read-only --json',
    '<%= config.bin %> checkout origin/app-deps ./node_modules',
  ]
  static override args = {
    rev: Args.string({description: 'snapshot to mount', required: true}),
    mnt: Args.string({description: 'empty directory to mount on', required: true}),
  }
  static override flags = {
    upper: Flags.string({description: 'upper layer directory (new, empty, or one a previous mount of REV used)'}),
    'read-only': Flags.boolean({description: 'mount read-only (with --upper: that layer, read-only)'}),
    foreground: Flags.boolean({description: 'serve the mount from this process until SIGINT/SIGTERM'}),
    remote: Flags.string({description: 'fetch file content missing locally from this remote on first read (default: REMOTE of a REMOTE/REF, or the remote tracking REF)'}),
    'ready-fd': Flags.integer({hidden: true}),
    'mount-id': Flags.string({hidden: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Checkout)
    process.exitCode = await runCheckout({
      rev: args.rev,
      mountpoint: args.mnt,
      upper: flags.upper,
      readOnly: flags['read-only'],
      foreground: flags.foreground,
      json: this.jsonEnabled(),
      repo: flags.repo,
      remote: flags.remote,
      readyFd: flags['ready-fd'],
      id: flags['mount-id'],
    })
    // fuse-native's native handles can keep the event loop alive after the unmount.
    if (flags.foreground || flags['ready-fd'] !== undefined) process.exit(process.exitCode)
  }
}
