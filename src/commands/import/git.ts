import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'
import {importGit, type ImportGitResult} from '../../interop/git/importGit.js'

export default class ImportGit extends BaseCommand {
  static override summary = 'Record a git commit as a snapshot'
  static override description = `Reads commit REV (default HEAD) of the git repository REPO with isomorphic-git and records its tree as a snapshot: files with their executable bit, symlinks, empty files; submodules are skipped with a warning. The snapshot keeps the commit id in its metadata (git.commit), its author, committer time and message.
With --history N, up to N first-parent ancestors are recorded too and become the snapshots' parents, oldest first.
Imports are incremental: a mapping in the repository (interop/git-map) remembers imported commits and trees, which are not read again.
Without --ref the ref is git/<repo>-<hash>/<branch>. The last line of output is the snapshot's id.`
  static override examples = [
    '<%= config.bin %> import git ~/src/app',
    '<%= config.bin %> import git ~/src/app v1.2.0 --ref app/release',
    '<%= config.bin %> import git ~/src/app main --history 50 --ref app/main',
  ]
  static override args = {
    repo: Args.string({description: 'git repository (work tree or bare)', required: true}),
    rev: Args.string({description: 'commit: branch, tag, HEAD or id, with ~N or ^ (default HEAD)'}),
  }
  static override flags = {
    ref: Flags.string({description: 'ref to move (e.g. app/main)'}),
    history: Flags.integer({description: 'first-parent ancestors to import too', min: 0, default: 0}),
  }

  async run(): Promise<ImportGitResult> {
    const {args, flags} = await this.parse(ImportGit)
    const repo = this.openRepo(flags.repo, true)
    try {
      const r = await this.withProgress((p) =>
        importGit(repo, {repo: args.repo, rev: args.rev, ref: flags.ref, history: flags.history, onWarning: this.onWarning, onProgress: (x) => p.update(x)}),
      )
      if (!this.jsonEnabled()) {
        const what = r.imported === 0 ? 'already imported' : `${r.imported} snapshot${r.imported === 1 ? '' : 's'} recorded (${r.readTrees} trees, ${r.readBlobs} blobs read)`
        this.out(`import ${r.ref}: git ${r.commit.slice(0, 12)}, ${what}${r.skipped.length ? `, ${r.skipped.length} entries skipped` : ''}`)
        this.out(r.id)
      }
      return r
    } finally {
      repo.close()
    }
  }
}
