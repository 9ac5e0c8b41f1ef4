import {Args, Flags} from '@oclif/core'
import {replay, type ReplayResult} from '../api/replay.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {ExitCode} from '../util/errors.js'

export function renderReplay(r: ReplayResult): string[] {
  const lines: string[] = []
  for (const p of r.paths) if (p.status !== 'identical') lines.push(`${p.status}\t${p.path}`)
  const c = r.counts
  lines.push(`paths: ${c.identical} identical, ${c.different} different, ${c.missing} missing, ${c.extra} extra`)
  lines.push(`stdout: ${r.stdout.equal ? 'identical' : `different (${r.stdout.recorded.size} bytes recorded, ${r.stdout.replayed.size} replayed)`}`)
  lines.push(`stderr: ${r.stderr.equal ? 'identical' : `different (${r.stderr.recorded.size} bytes recorded, ${r.stderr.replayed.size} replayed)`}`)
  const st = (x: {exitCode: number | null; signal: string | null}): string => x.signal ?? String(x.exitCode)
  lines.push(`exit: ${r.exit.equal ? `identical (${st(r.exit.recorded)})` : `different (${st(r.exit.recorded)} recorded, ${st(r.exit.replayed)} replayed)`}`)
  if (r.interrupted) lines.push('the replay was interrupted')
  if (r.kept) lines.push(`replayed tree kept in ${r.kept}`)
  lines.push(r.matches ? `replay of ${r.run.slice(0, 12)} matches` : `replay of ${r.run.slice(0, 12)} differs`)
  return lines
}

export default class Replay extends BaseCommand {
  static override summary = 'Run a recorded command again and compare'
  static override description = `Re-runs the run record RUN (an id, a unique prefix, or a ref whose latest entry is a run; RUN~N is the N-th previous run of its chain) in a fresh checkout of its input, with its argv, environment (redacted variables are taken from this environment) and working directory. Then compares, per output path (every path either run changed relative to the input): identical, different (both changed it, differently), missing (the recorded run changed it, the replay did not do the same), extra (only the replay changed it); and stdout, stderr and the exit status.
The command's stdout and stderr are passed through to stderr (not with --quiet); the report goes to stdout. Exit code 0 only when everything matches, else 20. Nothing is recorded and no ref moves. --keep DIR leaves the replayed tree in DIR.`
  static override examples = [
    '<%= config.bin %> replay agent~1',
    '<%= config.bin %> replay 3f2a9c1d --keep /tmp/replayed',
    '<%= config.bin %> replay runs/app --json',
  ]
  static override args = {run: Args.string({description: 'run record', required: true})}
  static override flags = {
    keep: Flags.string({description: 'restore the replayed output into this new or empty directory'}),
    materialize: Flags.boolean({description: 'restore the input to a temporary directory instead of mounting it'}),
  }

  async run(): Promise<ReplayResult> {
    const {args, flags} = await this.parse(Replay)
    const repo = this.openRepo(flags.repo)
    const json = this.jsonEnabled()
    const ac = new AbortController()
    const onSig = (sig: NodeJS.Signals): void => {
      if (!ac.signal.aborted) ac.abort(sig)
    }
    const onInt = (): void => onSig('SIGINT')
    const onTerm = (): void => onSig('SIGTERM')
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)
    let r: ReplayResult
    try {
      r = await replay(repo, args.run, {
        keep: flags.keep,
        mode: flags.materialize ? 'materialize' : 'auto',
        onStdout: flags.quiet ? undefined : (d) => void process.stderr.write(d),
        onStderr: flags.quiet ? undefined : (d) => void process.stderr.write(d),
        onWarning: this.onWarning,
        signal: ac.signal,
      })
    } finally {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      repo.close()
    }
    if (!json) for (const l of renderReplay(r)) this.out(l)
    process.exitCode = r.interrupted ? ExitCode.interrupted : r.matches ? 0 : ExitCode.mismatch
    return r
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    const r = await super.finally(err)
    // A mount served by this process can leave native handles that keep the event loop alive.
    setImmediate(() => process.exit(process.exitCode ?? (err ? 1 : 0))).unref()
    return r
  }
}
