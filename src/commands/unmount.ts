import {Args, Flags} from '@oclif/core'
import {unmount, type UnmountResult} from '../api/mounts.js'
import {BaseCommand} from '../cli/BaseCommand.js'

export default class Unmount extends BaseCommand {
  static override summary = 'Unmount a velo mount'
  static override description = `Unmounts MNT (made by velo checkout) and waits until its server has written everything it holds (the access trace) and exited. A busy mount (a process has a file open or its working directory in it) is refused unless --force, which detaches it at once.
The upper layer stays (mount it again with velo checkout REV MNT --upper DIR) unless --discard.`
  static override examples = ['<%= config.bin %> unmount /tmp/deps', '<%= config.bin %> unmount /tmp/deps --force --discard']
  static override args = {mnt: Args.string({description: 'mount point', required: true})}
  static override flags = {
    force: Flags.boolean({char: 'f', description: 'detach even if busy (lazy unmount)'}),
    discard: Flags.boolean({description: "also delete the mount's upper layer (its changes)"}),
  }

  async run(): Promise<UnmountResult> {
    const {args, flags} = await this.parse(Unmount)
    const repo = this.openRepo(flags.repo)
    const r = await unmount(repo, args.mnt, {force: flags.force, discard: flags.discard})
    const upper = r.upper ? (r.discarded ? ' (upper layer deleted)' : ` (upper layer kept in ${r.upper})`) : ''
    if (!this.jsonEnabled()) this.out(`unmounted ${r.mountpoint}${upper}`)
    return r
  }
}
