import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'
import {readSetting, type Setting} from '../../repo/settings.js'
import {repoConfig} from './list.js'

export default class ConfigGet extends BaseCommand {
  static override summary = 'Print the value of a setting'
  static override description = 'Prints the effective value of KEY: its environment variable when set, else the value in the repository\'s velo.json, else the default. With --json: key, value, source (env, repo or default), env (the variable), default and description.'
  static override examples = ['<%= config.bin %> config get compression', '<%= config.bin %> config get gc.grace --json']
  static override args = {key: Args.string({description: 'setting (velo config list shows them all)', required: true})}

  async run(): Promise<Setting> {
    const {args, flags} = await this.parse(ConfigGet)
    const s = readSetting(repoConfig(flags.repo).config, args.key)
    if (!this.jsonEnabled()) this.out(String(s.value))
    return s
  }
}
