#!/usr/bin/env -S node --max-semi-space-size=1
// velo entry point. Hot paths skip loading oclif (about 120 ms): --version, snapshot, checkout, run and deps.
const argv = process.argv.slice(2)
// `velo log | head`: a closed pipe ends the output quietly, as it does for git (no stack trace).
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v' || argv[0] === 'version')) {
  const {readFileSync} = await import('node:fs')
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`velo/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else if (argv[0] === 'snapshot' && !argv.includes('--help') && !argv.includes('-h')) {
  const {fastSnapshot} = await import('../dist/cli/snapshotCli.js')
  if (!(await fastSnapshot(argv.slice(1)))) await oclif()
} else if (argv[0] === 'run' && !beforeDashDash(argv).includes('--help') && !beforeDashDash(argv).includes('-h')) {
  const {fastRun} = await import('../dist/cli/runCli.js')
  if (!(await fastRun(argv.slice(1)))) await oclif()
} else if (argv[0] === 'deps' && !beforeDashDash(argv).includes('--help') && !beforeDashDash(argv).includes('-h')) {
  const {fastDeps} = await import('../dist/cli/depsCli.js')
  if (!(await fastDeps(argv.slice(1)))) await oclif()
} else if (argv[0] === 'checkout' && !argv.includes('--help') && !argv.includes('-h')) {
  const {fastCheckout} = await import('../dist/cli/checkoutCli.js')
  if (!(await fastCheckout(argv.slice(1)))) await oclif()
} else {
  await oclif()
}

// Like oclif's execute(), but errors outside a command (unknown command, help for one) go through
// the same mapping as every command's (src/cli/output.ts): one line and a hint, or JSON with --json.
async function oclif() {
  const {run, flush} = await import('@oclif/core')
  try {
    await run(argv, import.meta.url)
    await flush()
  } catch (err) {
    if (err?.code === 'EEXIT' && typeof err?.oclif?.exit === 'number') {
      process.exitCode = err.oclif.exit
      return
    }
    const {reportError} = await import('../dist/cli/output.js')
    const json = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length).includes('--json') || process.env.VELO_CONTENT_TYPE?.toLowerCase() === 'json'
    process.exitCode = reportError(err, json)
  }
}

/** The arguments before `--` (after it, `velo run` passes everything to the command). */
function beforeDashDash(args) {
  const i = args.indexOf('--')
  return i < 0 ? args : args.slice(0, i)
}
