import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/BaseCommand.js'
import {runRun, splitCommand, usageNoCommand} from '../cli/runCli.js'

export default class Run extends BaseCommand {
  static override summary = 'Run a command on a snapshot and record what it did'
  static override description = `Snapshots the input (DIR, default ., or uses REV; a run stands for its output), runs the command in a fresh copy-on-write checkout of it (a velo mount served by this process; --materialize restores a temporary directory instead, and velo does so with a warning when FUSE is not usable), then records one run record: input and output snapshots, argv, cwd, environment, stdout and stderr (stored, and passed through live), exit status, start time, duration, host, user and the files accessed in order (the mount's trace). The ref (default runs/<name of DIR> or runs/<REV>; a ref that holds runs continues its chain) moves to the record, whose previous is the ref's last run. The input directory itself is not changed: the command's changes are in the output snapshot (velo restore RUN DIR, velo checkout RUN MNT, velo diff RUN).
The environment is explicit: PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TERM, TZ and TMPDIR when set, plus every --env. Values of names that look like secrets (TOKEN, SECRET, PASSWORD, KEY, CREDENTIAL, AUTH...) reach the command but are recorded as [redacted]. stdin is /dev/null. When the command exits, what it left running in its process group is killed.
The exit code is the command's (128+N when killed by signal N). A command that is not found (127) or not executable (126) is not run and not recorded. On SIGINT or SIGTERM the command gets the signal, and the run is recorded as interrupted once its output snapshot is complete (exit 130). With --json the command's stdout goes to stderr and the last line of stdout is {"type":"summary","id":...,"record":{...}}.`
  static override examples = [
    '<%= config.bin %> run -- npm test',
    '<%= config.bin %> run --in ./workspace --ref agent -- ./agent.sh step1',
    '<%= config.bin %> run --in agent --env OPENAI_API_KEY -- ./agent.sh step2',
    '<%= config.bin %> run --in app/deps --materialize --json -- make build',
  ]
  static override usage = ['run [--ref NAME] [--in DIR|REV] [--env NAME[=VALUE]]... [--cwd PATH] [--materialize] [--sign] [--json] -- CMD [ARGS...]']
  static override strict = false
  static override flags = {
    ref: Flags.string({description: 'ref the run record goes on (default runs/<name of the input>)'}),
    in: Flags.string({description: 'input: a directory (snapshotted first) or a revision (default .)'}),
    env: Flags.string({description: 'NAME or NAME=VALUE to add to the environment (repeatable)', multiple: true}),
    cwd: Flags.string({description: 'working directory relative to the input root (default: the current directory, if inside DIR)'}),
    materialize: Flags.boolean({description: 'restore the input to a temporary directory instead of mounting it (no FUSE; no access trace)'}),
    sign: Flags.boolean({description: 'sign the run record with the repository key (velo key generate)'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Run)
    const {command} = splitCommand(this.argv)
    if (command.length === 0) throw usageNoCommand()
    let code: number
    try {
      code = await runRun({
        argv: command,
        repo: flags.repo,
        ref: flags.ref,
        in: flags.in,
        env: flags.env ?? [],
        cwd: flags.cwd,
        materialize: flags.materialize,
        sign: flags.sign,
        json: this.jsonEnabled(),
        quiet: flags.quiet,
      })
    } catch (err) {
      await this.catch(err as Error)
      code = Number(process.exitCode ?? 1)
    }
    // A mount served by this process can leave native handles that keep the event loop alive.
    process.exit(code)
  }
}
