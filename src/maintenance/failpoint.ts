/**
 * Crash points for the kill -9 tests: with VELO_FAILPOINT=NAME the process kills itself (SIGKILL,
 * no cleanup, as a crash or an OOM kill would) when it reaches the point of that name; with
 * VELO_FAILPOINT_SLEEP=NAME:MS it says so on stderr and stops there for MS milliseconds (to widen a
 * race window).
 */
export function failpoint(name: string): void {
  if (process.env.VELO_FAILPOINT === name) process.kill(process.pid, 'SIGKILL')
  const sleep = process.env.VELO_FAILPOINT_SLEEP
  if (sleep && sleep.startsWith(`${name}:`)) {
    process.stderr.write(`velo: failpoint ${name} reached\n`)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(sleep.slice(name.length + 1)))
  }
}
