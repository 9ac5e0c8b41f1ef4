import {listMounts, type MountListing} from '../api/mounts.js'
import {BaseCommand} from '../cli/BaseCommand.js'

export default class Mounts extends BaseCommand {
  static override summary = 'List active mounts'
  static override description = 'Lists the mounts of this repository that a live process serves: snapshot, mount point, upper layer, pid and since when. Records left by a process that died are removed (and a mount it left behind is detached).'
  static override examples = ['<%= config.bin %> mounts', '<%= config.bin %> mounts --json']

  async run(): Promise<MountListing[]> {
    const {flags} = await this.parse(Mounts)
    const mounts = listMounts(this.openRepo(flags.repo))
    if (!this.jsonEnabled()) {
      for (const m of mounts) {
        this.out(`${m.mountpoint}\t${m.snapshot.slice(0, 12)}\t${m.readOnly ? 'ro' : 'rw'}\tpid ${m.pid}\tsince ${m.since}\tupper ${m.upper ?? '-'}`)
      }
    }
    return mounts
  }
}
