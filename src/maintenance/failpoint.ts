/**
 * Crash points for the kill -9 tests: with VELO_FAILPOINT=NAME the process kills itself (SIGKILL,
 * no cleanup, as a crash or an OOM kill would) when it reaches the point of that name; with
 * VELO_FAILPOINT_SLEEP=NAME:MS it says so on stderr and stops there for MS milliseconds (to widen a
 * race window); with VELO_FAILPOINT_WAIT=NAME:FILE it says so and stops there until FILE exists
 * (a test holds a command at that point, e.g. `locked:pull` while it holds the repository lock).
 */
import {existsSync} from 'node:fs'

export function failpoint(name: string): void {
  if (process.env.VELO_FAILPOINT === name) process.kill(process.pid, 'SIGKILL')
  const sleep = process.env.VELO_FAILPOINT_SLEEP
  if (sleep && sleep.startsWith(`${name}:`)) {
    process.stderr.write(`velo: failpoint ${name} reached\n`)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(sleep.slice(name.length + 1)))
  }
  const wait = process.env.VELO_FAILPOINT_WAIT
  if (wait && wait.startsWith(`${name}:`)) {
    const file = wait.slice(name.length + 1)
    process.stderr.write(`velo: failpoint ${name} reached\n`)
    const cell = new Int32Array(new SharedArrayBuffer(4))
    while (!existsSync(file)) Atomics.wait(cell, 0, 0, 20)
  }
}
