/**
 * `velo` without arguments (and `velo help`): every command with its summary and one example,
 * then the global flags. Help for one command (`velo help CMD`, `velo CMD --help`) is oclif's,
 * which lists all of the command's examples.
 */
import {Help} from '@oclif/core'
import {catalog, type ManifestCommand} from './commandCatalog.js'

export default class VeloHelp extends Help {
  protected override async showRootHelp(): Promise<void> {
    const cmds = catalog(this.config.commands as unknown as ManifestCommand[], this.config.bin)
    const width = Math.max(...cmds.map((c) => c.id.length)) + 2
    const lines: string[] = []
    lines.push(`${this.config.bin} ${this.config.version}: ${this.config.pjson.description ?? ''}`.trim())
    lines.push('')
    lines.push('USAGE')
    lines.push(`  $ ${this.config.bin} COMMAND [ARGS] [FLAGS]`)
    lines.push('')
    lines.push(`COMMANDS (one example each; ${this.config.bin} help COMMAND shows every flag and example)`)
    for (const c of cmds) {
      lines.push(`  ${c.id.padEnd(width)}${c.summary}`)
      if (c.examples[0]) lines.push(`  ${' '.repeat(width)}$ ${c.examples[0].command}`)
    }
    lines.push('')
    lines.push('GLOBAL FLAGS')
    lines.push('  --repo PATH   the repository (default: $VELO_REPO, else ~/.velo)')
    lines.push('  --json        JSON lines on stdout: the last line is the result, or {"type":"error",...}')
    lines.push('  -q, --quiet   no progress output')
    lines.push('')
    lines.push('Exit codes and JSON shapes: docs/exit-codes.md, docs/json.md. Start with docs/getting-started.md.')
    this.log(lines.join('\n'))
  }
}
