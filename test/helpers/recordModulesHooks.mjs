// Module hooks (loader thread) for recordModules.mjs: records each resolved ESM url.
import {appendFileSync} from 'node:fs'

let log
export function initialize(data) {
  log = data.log
}

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context)
  if (log && r.url.startsWith('file:')) appendFileSync(log, r.url + '\n')
  return r
}
