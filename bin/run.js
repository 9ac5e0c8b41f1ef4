#!/usr/bin/env node
// velo entry point. Two hot paths skip loading oclif (about 120 ms): --version and snapshot.
const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v' || argv[0] === 'version')) {
  const {readFileSync} = await import('node:fs')
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`velo/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else if (argv[0] === 'snapshot' && !argv.includes('--help') && !argv.includes('-h')) {
  const {fastSnapshot} = await import('../dist/cli/snapshotCli.js')
  if (!(await fastSnapshot(argv.slice(1)))) await oclif()
} else {
  await oclif()
}

async function oclif() {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
