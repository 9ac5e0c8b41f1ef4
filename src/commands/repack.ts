import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/BaseCommand.js'
import {humanBytes} from '../cli/output.js'
import {repack, type RepackResult} from '../maintenance/repack.js'
import {gcGraceMs} from '../repo/settings.js'

export default class Repack extends BaseCommand {
  static override summary = 'Consolidate small packs into large ones, in tree order'
  static override description = `Merges packs smaller than 16 MiB (every snapshot writes a small metadata pack) into large packs whose objects follow tree order (snapshot, trees depth-first, file contents in path order), so reading a directory reads neighbouring bytes. Atomic: the new packs are written and synced before the old ones are removed. Nothing is dropped (that is gc's job). Holds the exclusive repository lock.`
  static override examples = ['<%= config.bin %> repack', '<%= config.bin %> repack --all', '<%= config.bin %> repack --meta-only --json']
  static override flags = {
    all: Flags.boolean({description: 'rewrite every pack, large ones too (full locality repack)'}),
    'meta-only': Flags.boolean({description: 'only metadata packs (snapshots and trees): fast'}),
  }

  async run(): Promise<RepackResult> {
    const {flags} = await this.parse(Repack)
    const repo = this.openRepo(flags.repo)
    try {
      // repack blocks the event loop: on a terminal the ink view is loaded first, so that it draws.
      const r = await this.withProgress((p) => repack(repo, {all: flags.all, metaOnly: flags['meta-only'], graceMs: gcGraceMs(repo.config), onWarning: this.onWarning, onProgress: (x) => p.update({...x, unit: x.phase === 'order' ? 'objects' : 'groups'})}), {eager: true})
      if (!this.jsonEnabled()) {
        if (r.removedPacks.length === 0) this.out(`nothing to repack (${r.packsBefore} packs)`)
        else this.out(`repacked ${r.objects} objects from ${r.removedPacks.length} packs (${humanBytes(r.bytesBefore)}) into ${r.newPacks.length} (${humanBytes(r.bytesAfter)}); ${r.packsAfter} packs now`)
      }
      return r
    } finally {
      repo.close()
    }
  }
}
