import {Args, Flags} from '@oclif/core'
import {rootTreeOf} from '../api/treePath.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {humanBytes} from '../cli/output.js'
import {restoreUpdate} from '../cli/progressUpdates.js'
import {restoreTree, type RestoreResult} from '../restore/restoreTree.js'

export default class Restore extends BaseCommand {
  static override summary = 'Write a snapshot out as real files'
  static override description = 'Restores snapshot REV into DIR: files (0644, or 0755 when executable), symlinks, empty files and directories exactly as snapshotted. Refuses a non-empty DIR unless --force, which makes DIR match the snapshot (entries not in it are removed). Never writes through a symlink or outside DIR.'
  static override examples = ['<%= config.bin %> restore node_modules-3f2a9c1d ./node_modules', '<%= config.bin %> restore app/deps~1 /tmp/old --force']
  static override args = {
    rev: Args.string({description: 'snapshot to restore', required: true}),
    dir: Args.string({description: 'target directory', required: true}),
  }
  static override flags = {force: Flags.boolean({char: 'f', description: 'restore into a non-empty directory, making it match the snapshot'})}

  async run(): Promise<RestoreResult & {snapshot: string}> {
    const {args, flags} = await this.parse(Restore)
    const repo = this.openRepo(flags.repo)
    const {snapshot, tree} = rootTreeOf(repo, args.rev)
    const r = await this.withProgress((p) => restoreTree(repo, tree, args.dir, {force: flags.force, onProgress: (x) => p.update(restoreUpdate(x))}))
    if (!this.jsonEnabled()) this.out(`restored ${snapshot.slice(0, 12)} into ${args.dir}: ${r.files} files, ${r.dirs} directories, ${r.symlinks} symlinks, ${humanBytes(r.bytes)}`)
    return {snapshot, ...r}
  }
}
