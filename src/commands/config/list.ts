import {BaseCommand} from '../../cli/BaseCommand.js'
import {defaultRepoPath, isRepository, Repository} from '../../repo/Repository.js'
import {listSettings, type Setting} from '../../repo/settings.js'

/** The repository's parsed velo.json, or undefined when there is no repository at `repoFlag`. */
export function repoConfig(repoFlag: string | undefined): {path: string; config: Record<string, unknown> | undefined} {
  const path = defaultRepoPath(repoFlag)
  if (!isRepository(path)) return {path, config: undefined}
  const repo = Repository.open(path)
  try {
    return {path, config: repo.config}
  } finally {
    repo.close()
  }
}

export function settingLine(s: Setting): string {
  const from = s.source === 'env' ? `from $${s.env}` : s.source === 'repo' ? 'from velo.json' : 'default'
  return `${s.key} = ${s.value === '' ? '""' : String(s.value)}  (${from})`
}

export default class ConfigList extends BaseCommand {
  static override summary = 'List the repository settings'
  static override description = `Every setting with its value and where the value comes from: its environment variable, the repository's velo.json, or the default.
Settings: compression (zstd level of data packs), ref.naming (default ref of velo snapshot DIR), gc.grace (how long gc keeps unreachable objects), remote.credentials and remote.profile (where S3 remotes get credentials).`
  static override examples = ['<%= config.bin %> config list', '<%= config.bin %> config list --json']

  async run(): Promise<Setting[]> {
    const {flags} = await this.parse(ConfigList)
    const {config} = repoConfig(flags.repo)
    const settings = listSettings(config)
    if (!this.jsonEnabled()) for (const s of settings) this.out(settingLine(s))
    return settings
  }
}
