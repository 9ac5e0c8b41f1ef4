import {Args, Flags} from '@oclif/core'
import {createWriteStream, renameSync, rmSync} from 'node:fs'
import {Writable} from 'node:stream'
import {dirname} from 'node:path'
import {compressionForName, type Compression} from '../../archive/compression.js'
import {exportTar, type ExportTarResult} from '../../archive/exportTar.js'
import {BaseCommand} from '../../cli/BaseCommand.js'
import {humanBytes, reportError} from '../../cli/output.js'
import {VeloError, fsError, isErrno} from '../../util/errors.js'
import {tempName} from '../../util/fsx.js'

export default class ExportTar extends BaseCommand {
  static override summary = 'Write a snapshot as a tar archive'
  static override description = `Writes REV (or the directory REV:PATH) as a tar archive that GNU tar and bsdtar extract to exactly the snapshot: files 0644 or 0755, symlinks, empty files and directories.
The archive is deterministic: the same snapshot always gives the same bytes (sorted entries, mtime = the snapshot's time, owner 0:0). Long names and sizes of 8 GiB or more use pax records.
-o FILE writes FILE atomically (compressed when it ends in .gz/.tgz or .zst/.tzst, or as --compress says); without -o (or with -o -) the archive goes to standard output.`
  static override examples = [
    '<%= config.bin %> export tar app/deps -o deps.tar',
    '<%= config.bin %> export tar app/deps -o deps.tar.zst',
    '<%= config.bin %> export tar app/deps:react | tar x -C /tmp/react',
  ]
  static override args = {rev: Args.string({description: 'snapshot (REV or REV:PATH)', required: true})}
  static override flags = {
    output: Flags.string({char: 'o', description: 'archive file to write, or - for standard output (the default)'}),
    compress: Flags.string({description: 'compression (default: from the file name, else none)', options: ['none', 'gzip', 'zstd']}),
  }

  private archiveOnStdout = false

  /** With the archive on standard output, the --json result goes to standard error. */
  override logJson(json: unknown): void {
    if (this.archiveOnStdout) process.stderr.write(JSON.stringify(json) + '\n')
    else super.logJson(json)
  }

  /** With the archive on standard output, errors go to standard error (as text) even with --json. */
  override async catch(err: Error & {exitCode?: number}): Promise<void> {
    if (!this.archiveOnStdout) return super.catch(err)
    process.exitCode = reportError(err, false)
  }

  async run(): Promise<ExportTarResult & {output: string}> {
    const {args, flags} = await this.parse(ExportTar)
    const file = flags.output ?? '-'
    const compression = (flags.compress as Compression | undefined) ?? (file === '-' ? 'none' : compressionForName(file))
    const repo = this.openRepo(flags.repo)
    try {
      if (file === '-') {
        if (process.stdout.isTTY) {
          throw new VeloError('ERR_VELO_USAGE', 'refusing to write a tar archive to a terminal', {hint: 'pass -o FILE, or pipe the output (e.g. | tar x -C DIR)'})
        }
        this.archiveOnStdout = true
        try {
          // No progress events with --json here: they would go into the archive on stdout.
          const r = this.jsonEnabled()
            ? await exportTar(repo, {rev: args.rev, output: stdoutWriter(), compression})
            : await this.withProgress((p) => exportTar(repo, {rev: args.rev, output: stdoutWriter(), compression, onProgress: (x) => p.update(x)}))
          return {...r, output: '-'}
        } catch (err) {
          if (isErrno(err, 'EPIPE')) {
            throw new VeloError('ERR_VELO_IO', 'the reader of the archive closed the pipe before its end', {hint: 'the archive on standard output is incomplete', cause: err})
          }
          throw err
        }
      }
      const tmp = tempName(dirname(file), 'export')
      let r: ExportTarResult
      try {
        r = await this.withProgress((p) =>
          exportTar(repo, {rev: args.rev, output: createWriteStream(tmp, {flags: 'wx', mode: 0o644}), compression, onProgress: (x) => p.update(x)}),
        )
        renameSync(tmp, file)
      } catch (err) {
        rmSync(tmp, {force: true})
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw new VeloError('ERR_VELO_NOT_FOUND', `directory ${dirname(file)} does not exist`, {hint: 'create it first, or write elsewhere with -o'})
        throw fsError(err, file, 'writing')
      }
      if (!this.jsonEnabled()) this.out(`exported ${r.snapshot.slice(0, 12)}${r.path ? `:${r.path}` : ''} to ${file}: ${r.files} files, ${r.dirs} directories, ${r.symlinks} symlinks, ${humanBytes(r.bytes)} (${humanBytes(r.archiveBytes)} archive)`)
      return {...r, output: file}
    } finally {
      repo.close()
    }
  }
}

/**
 * Standard output as a stream a pipeline may end: process.stdout itself cannot be ended (on a pipe
 * the pipeline would never finish), so each piece is written to it and the end is ours.
 */
function stdoutWriter(): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      process.stdout.write(chunk, (err) => cb(err ?? null))
    },
  })
}
