import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'
import {exportGit, type ExportGitResult} from '../../interop/git/exportGit.js'

export default class ExportGit extends BaseCommand {
  static override summary = 'Write a snapshot as a git commit'
  static override description = `Writes snapshot REV into the git repository REPO (created when missing) as a commit on --branch (default: REV when it is a ref, else velo), whose parent is the branch's previous commit. Only objects and the branch are written: no index, no work tree; check it out with git checkout, git clone or git worktree add.
The commit reproduces the snapshot exactly (exec bits, symlinks, empty files) and passes git fsck --strict. Git cannot hold empty directories: they are listed (emptyDirs) with a warning, as are entries git refuses (.git).
The commit is deterministic (times are the snapshot's): exporting the same snapshot again changes nothing.`
  static override examples = [
    '<%= config.bin %> export git app/deps /srv/git/deps.git',
    '<%= config.bin %> export git 3f2a9c1d ./out --branch release -m "deps for v2"',
  ]
  static override args = {
    rev: Args.string({description: 'snapshot', required: true}),
    repo: Args.string({description: 'git repository (created when missing or empty)', required: true}),
  }
  static override flags = {
    branch: Flags.string({char: 'b', description: 'branch to commit to'}),
    message: Flags.string({char: 'm', description: 'commit message (default: the snapshot message)'}),
    bare: Flags.boolean({description: 'create a bare repository when REPO does not exist'}),
  }

  async run(): Promise<ExportGitResult> {
    const {args, flags} = await this.parse(ExportGit)
    const repo = this.openRepo(flags.repo)
    try {
      const r = await this.withProgress((p) =>
        exportGit(repo, {rev: args.rev, repo: args.repo, branch: flags.branch, message: flags.message, bare: flags.bare, onWarning: this.onWarning, onProgress: (x) => p.update(x)}),
      )
      if (!this.jsonEnabled()) {
        this.out(r.createdCommit ? `exported ${r.snapshot.slice(0, 12)} to ${args.repo} ${r.branch}: ${r.blobs} blobs, ${r.trees} trees` : `${args.repo} ${r.branch} already holds ${r.snapshot.slice(0, 12)}`)
        this.out(r.commit)
      }
      return r
    } finally {
      repo.close()
    }
  }
}
