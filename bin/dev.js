#!/usr/bin/env node
// Development entry: same as run.js but always through oclif (run `npm run build` first).
const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
