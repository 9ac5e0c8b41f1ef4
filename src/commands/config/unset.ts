import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'
import {readSetting, writeSetting, type SettingValue} from '../../repo/settings.js'

export default class ConfigUnset extends BaseCommand {
  static override summary = 'Return a setting to its default'
  static override description = "Removes KEY from the repository's velo.json, so that its environment variable or its default applies."
  static override examples = ['<%= config.bin %> config unset compression']
  static override args = {key: Args.string({description: 'setting', required: true})}

  async run(): Promise<{key: string; value: SettingValue | null; previous: SettingValue | null}> {
    const {args, flags} = await this.parse(ConfigUnset)
    const repo = this.openRepo(flags.repo)
    try {
      const r = writeSetting(repo.root, args.key, undefined)
      if (!this.jsonEnabled()) this.out(`${r.key} unset${r.previous !== null ? ` (was ${String(r.previous)}); now ${String(readSetting(undefined, args.key).value)}` : ''}`)
      return r
    } finally {
      repo.close()
    }
  }
}
