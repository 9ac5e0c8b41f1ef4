import {Args, Flags} from '@oclif/core'
import {importTar, type ImportTarResult} from '../../archive/importTar.js'
import {BaseCommand} from '../../cli/BaseCommand.js'
import {humanBytes} from '../../cli/output.js'
import {VeloError} from '../../util/errors.js'

export default class ImportTar extends BaseCommand {
  static override summary = 'Record a tar archive as a snapshot'
  static override description = `Reads a tar archive (ustar, pax or GNU; plain, gzip or zstd, detected from its first bytes, also on standard input) and records its tree as a snapshot, moving --ref to it.
Files keep their executable bit (the owner x bit of the entry's mode), symlinks their targets; hard links become files with the content of their target; devices and fifos are skipped with a warning.
Archives with absolute or .. names, duplicate entries, entries below a symlink, hard links to names outside the archive or symlinks that resolve outside it are refused and nothing is recorded.
An OCI layer's whiteouts (.wh.NAME, .wh..wh..opq) are applied with --base REV (the snapshot of the layers below); without --base they are refused.
Without --ref the ref is named after the archive file (e.g. app.tar.gz-3f2a9c1d). The last line of output is the new snapshot's id.`
  static override examples = [
    '<%= config.bin %> import tar release.tar.gz --ref app/release',
    'curl -sL https://example.com/x.tar.zst | <%= config.bin %> import tar - --ref x',
    '<%= config.bin %> import tar layer2.tar --base img/layer1 --ref img/layer2',
  ]
  static override args = {file: Args.string({description: 'archive file, or - for standard input', required: true})}
  static override flags = {
    ref: Flags.string({description: 'ref to move (required when reading standard input)'}),
    base: Flags.string({description: 'snapshot the archive is a layer of: apply its entries and OCI whiteouts on top of it'}),
    message: Flags.string({char: 'm', description: 'message to record'}),
    'allow-outside-symlinks': Flags.boolean({description: 'keep symlinks whose targets are absolute or outside the archive'}),
  }

  async run(): Promise<ImportTarResult> {
    const {args, flags} = await this.parse(ImportTar)
    if (args.file === '-' && process.stdin.isTTY) {
      throw new VeloError('ERR_VELO_USAGE', 'refusing to read a tar archive from a terminal', {hint: 'pipe the archive in (e.g. curl -sL URL | velo import tar - --ref NAME), or pass its file'})
    }
    const repo = this.openRepo(flags.repo, true)
    try {
      const r = await this.withProgress((p) =>
        importTar(repo, {
          file: args.file,
          ref: flags.ref,
          base: flags.base,
          message: flags.message,
          allowOutsideSymlinks: flags['allow-outside-symlinks'],
          onWarning: this.onWarning,
          onProgress: (x) => p.update(x),
        }),
      )
      if (!this.jsonEnabled()) {
        const parts = [`${r.files} files`, `${r.dirs} directories`, `${r.symlinks} symlinks`]
        if (r.hardlinks) parts.push(`${r.hardlinks} hard links`)
        if (r.whiteouts) parts.push(`${r.whiteouts} whiteouts applied`)
        parts.push(humanBytes(r.bytes), `${r.newObjects} new objects`, `${humanBytes(r.storedBytes)} stored`)
        this.out(`import ${r.ref}: ${parts.join(', ')}`)
        if (r.skipped.length) this.out(`skipped ${r.skipped.length} entries (devices, fifos)`)
        this.out(r.id)
      }
      return r
    } finally {
      repo.close()
    }
  }
}
