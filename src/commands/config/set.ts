import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/BaseCommand.js'
import {Repository} from '../../repo/Repository.js'
import {readSetting, writeSetting, type SettingValue} from '../../repo/settings.js'

export default class ConfigSet extends BaseCommand {
  static override summary = 'Change a setting of the repository'
  static override description = `Stores KEY = VALUE in the repository's velo.json (checked first: an unknown key or a bad value changes nothing). Its environment variable, when set, still overrides it; a warning says so.`
  static override examples = ['<%= config.bin %> config set compression 9', '<%= config.bin %> config set ref.naming path', '<%= config.bin %> config set gc.grace 30d']
  static override args = {
    key: Args.string({description: 'setting (velo config list shows them all)', required: true}),
    value: Args.string({description: 'new value', required: true}),
  }

  async run(): Promise<{key: string; value: SettingValue | null; previous: SettingValue | null}> {
    const {args, flags} = await this.parse(ConfigSet)
    const repo = this.openRepo(flags.repo)
    let r
    try {
      r = writeSetting(repo.root, args.key, args.value)
    } finally {
      repo.close()
    }
    const after = Repository.open(repo.root)
    try {
      const s = readSetting(after.config, args.key)
      if (s.source === 'env') this.onWarning(`$${s.env} is set: it overrides this setting (the value in effect is ${String(s.value)})`)
    } finally {
      after.close()
    }
    if (!this.jsonEnabled()) this.out(`${r.key} = ${String(r.value)}${r.previous !== null ? ` (was ${String(r.previous)})` : ''}`)
    return r
  }
}
