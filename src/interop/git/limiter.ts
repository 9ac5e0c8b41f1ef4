/** Runs at most `n` async tasks at a time (reads and writes of git objects overlap their I/O). */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0
  const queue: (() => void)[] = []
  const next = (): void => {
    active--
    queue.shift()?.()
  }
  return <T>(task: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const run = (): void => {
        active++
        task().then(resolve, reject).finally(next)
      }
      if (active < n) run()
      else queue.push(run)
    })
}
