/** Base of every velo command: --repo and --json, error mapping, warnings. */
import {Command, Flags, type Interfaces} from '@oclif/core'
import {Repository} from '../repo/Repository.js'
import {reportError, warn} from './output.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    repo: Flags.string({
      description: 'repository path (default: $VELO_REPO, else ~/.velo)',
      helpGroup: 'GLOBAL',
    }),
  }

  protected warnings: string[] = []

  protected openRepo(repoFlag: string | undefined, create = false): Repository {
    return Repository.open(repoFlag, {create})
  }

  protected onWarning = (msg: string): void => {
    this.warnings.push(msg)
    warn(msg)
  }

  protected out(line: string): void {
    process.stdout.write(line + '\n')
  }

  override async catch(err: Error & {exitCode?: number}): Promise<void> {
    process.exitCode = reportError(err, this.jsonEnabled())
  }
}
