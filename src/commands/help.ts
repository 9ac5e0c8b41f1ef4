import {Args, loadHelpClass} from '@oclif/core'
import {BaseCommand} from '../cli/BaseCommand.js'
import {catalog, catalogEntry, type CatalogCommand, type ManifestCommand} from '../cli/commandCatalog.js'
import {unknownCommand} from '../cli/output.js'

export default class HelpCommand extends BaseCommand {
  static override summary = 'Show help for velo or one of its commands'
  static override description = `Without COMMAND: every command with a summary and an example. With COMMAND (e.g. ref set): its usage, flags and examples.
With --json: the command (or every command) as data: id, summary, description, usage, examples, args and flags.`
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help snapshot', '<%= config.bin %> help ref set', '<%= config.bin %> help diff --json']
  static override strict = false
  static override args = {command: Args.string({description: 'command, its words separated by spaces'})}

  async run(): Promise<CatalogCommand | CatalogCommand[] | void> {
    const {argv} = await this.parse(HelpCommand)
    const words = (argv as string[]).filter((a) => !a.startsWith('-'))
    const id = words.join(':')
    const manifest = this.config.commands as unknown as ManifestCommand[]
    if (id && !this.config.findCommand(id) && !this.config.findTopic(id)) throw unknownCommand(id, this.config.commandIDs)
    if (this.jsonEnabled()) {
      if (!id) return catalog(manifest, this.config.bin)
      const c = manifest.find((m) => m.id === id)
      if (!c) return catalog(manifest.filter((m) => m.id.startsWith(id + ':')), this.config.bin)
      return catalogEntry(c, this.config.bin)
    }
    const Help = await loadHelpClass(this.config)
    const help = new Help(this.config, this.config.pjson.oclif.helpOptions ?? {})
    const cmd = id ? this.config.findCommand(id) : undefined
    if (cmd) await help.showCommandHelp(cmd, [])
    else await help.showHelp(words)
  }
}
