// Drives the real progress reporter for test/e2e/progressView.test.ts in a terminal: draws the
// view half way, waits for a line on stdin, then finishes and prints a result line.
import {createInterface} from 'node:readline'
import {createProgress} from '../../dist/ui/createProgress.js'

const p = createProgress({command: 'demo'})
process.stderr.write(`mode ${p.mode}\n`)
await p.ready(true)
p.update({phase: 'work', done: 0, total: 10, bytes: 0, totalBytes: 10 << 20, unit: 'files'})
await new Promise((r) => setTimeout(r, 300))
p.update({phase: 'work', done: 5, total: 10, bytes: 5 << 20, totalBytes: 10 << 20, unit: 'files'})
p.warn('a warning above the view')
const rl = createInterface({input: process.stdin})
await new Promise((r) => rl.once('line', r))
rl.close()
p.update({phase: 'work', done: 10, total: 10, bytes: 10 << 20, totalBytes: 10 << 20, unit: 'files'})
await p.done(true)
process.stdout.write('result line\n')
