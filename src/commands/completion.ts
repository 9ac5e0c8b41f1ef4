import {Args} from '@oclif/core'
import {BaseCommand} from '../cli/BaseCommand.js'
import {catalog, type ManifestCommand} from '../cli/commandCatalog.js'
import {bashCompletion, zshCompletion} from '../cli/completionScript.js'

export default class Completion extends BaseCommand {
  static override summary = 'Print a shell completion script (bash or zsh)'
  static override description = `Prints a script that completes velo's commands and flags (and file names for arguments). Load it in the current shell with source <(velo completion bash), or install it:
bash: velo completion bash > /etc/bash_completion.d/velo   (or ~/.local/share/bash-completion/completions/velo)
zsh:  velo completion zsh > ~/.zfunc/_velo   (with fpath+=(~/.zfunc) before compinit in ~/.zshrc)`
  static override examples = ['<%= config.bin %> completion bash > ~/.local/share/bash-completion/completions/velo', '<%= config.bin %> completion zsh > ~/.zfunc/_velo', '<%= config.bin %> completion bash --json']
  static override args = {shell: Args.string({description: 'bash or zsh', required: true, options: ['bash', 'zsh']})}

  async run(): Promise<{shell: string; script: string}> {
    const {args} = await this.parse(Completion)
    const cmds = catalog(this.config.commands as unknown as ManifestCommand[], this.config.bin)
    const script = args.shell === 'zsh' ? zshCompletion(cmds, this.config.bin) : bashCompletion(cmds, this.config.bin)
    if (!this.jsonEnabled()) process.stdout.write(script)
    return {shell: args.shell, script}
  }
}
