import {Args, Flags} from '@oclif/core'
import type {DepsResult, DepsStatus} from '../api/deps.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {renderDepsCli, runDepsCli, splitCommand} from '../cli/depsCli.js'
import {PRESET_NAMES} from '../deps/presets.js'

export default class Deps extends BaseCommand {
  static override summary = 'Provide a dependency tree from a snapshot instead of installing it'
  static override description = `Wraps the package manager. The key is BLAKE3 over the key files (lockfiles), the install command, the runtime's version, the OS and the architecture (docs/format.md, "Dependency keys"). Hit (ref deps/<key> in this repository, else on --remote, which is then pulled): DIR is mounted with a copy-on-write overlay, as velo checkout does, in milliseconds (--materialize: restored as real files). Miss: the install command runs (its output is shown), DIR is snapshotted under deps/<key> and, with --remote, pushed. A DIR that already is a mount of that snapshot, or holds the same files, is left as it is.
Presets: ${PRESET_NAMES.join(', ')} (docs/deps.md); without one give --key-file, --dir and the command after --. A DIR that exists and is not empty is not replaced on a hit unless --force. --status shows the key, its inputs and whether it would hit, without acting.`
  static override examples = [
    '<%= config.bin %> deps npm',
    '<%= config.bin %> deps npm --remote origin --materialize',
    '<%= config.bin %> deps pnpm --status',
    '<%= config.bin %> deps --key-file requirements.txt --key-file constraints.txt --dir .venv -- sh -c "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"',
  ]
  static override usage = ['deps [PRESET] [--dir DIR] [--key-file FILE]... [--remote NAME] [--materialize] [--force] [--status] [--json] [-- INSTALL CMD...]']
  static override strict = false
  static override args = {
    preset: Args.string({description: `preset: ${PRESET_NAMES.join(', ')}`, required: false}),
  }
  static override flags = {
    dir: Flags.string({description: 'the directory the install fills (preset default: node_modules, .venv, ...)'}),
    'key-file': Flags.string({description: 'file whose bytes are part of the key (preset default: its lockfile)', multiple: true}),
    remote: Flags.string({description: 'remote to fetch a hit from and to push a miss to'}),
    materialize: Flags.boolean({description: 'restore DIR as real files instead of mounting it'}),
    force: Flags.boolean({char: 'f', description: 'replace a DIR that is not empty'}),
    status: Flags.boolean({description: 'show the key, its inputs and whether it would hit; change nothing'}),
  }

  async run(): Promise<DepsResult | DepsStatus> {
    const {flags: flagArgv, command} = splitCommand(this.argv)
    const {args, flags} = await this.parse(Deps, flagArgv)
    const r = await runDepsCli(
      {
        preset: args.preset, dir: flags.dir, keyFiles: flags['key-file'] ?? [], remote: flags.remote, materialize: flags.materialize, force: flags.force,
        status: flags.status, command, repo: flags.repo, json: this.jsonEnabled(), quiet: flags.quiet, started: performance.timeOrigin,
      },
      this.onWarning,
    )
    if (!this.jsonEnabled()) for (const l of renderDepsCli(r)) this.out(l)
    return r
  }
}
