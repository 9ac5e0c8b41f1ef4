/** oclif hook: `velo nosuch` becomes a usage error (exit 2) naming the closest command. */
import type {Hook} from '@oclif/core'
import {unknownCommand} from '../output.js'

const hook: Hook<'command_not_found'> = async function (opts) {
  throw unknownCommand(opts.id, opts.config.commandIDs)
}

export default hook
