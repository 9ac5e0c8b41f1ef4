// Preloaded with `node --import` by test/e2e/startup.test.ts: appends the path of every module the
// process loads (ESM imports through a resolve hook, CommonJS requires through Module._load) to the
// file named by $VELO_TEST_MODULE_LOG, one per line.
import {appendFileSync} from 'node:fs'
import Module, {register} from 'node:module'

const log = process.env.VELO_TEST_MODULE_LOG
if (log) {
  register('./recordModulesHooks.mjs', import.meta.url, {data: {log}})
  const load = Module._load
  Module._load = function (request, parent, isMain) {
    try {
      appendFileSync(log, Module._resolveFilename(request, parent, isMain) + '\n')
    } catch {
      // builtins and failed resolutions are not recorded
    }
    return load.apply(this, arguments)
  }
}
