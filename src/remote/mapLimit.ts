/** Runs fn over items with at most `limit` in flight; rejects with the first error (others finish). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  let failed: {err: unknown} | undefined
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++
      try {
        out[i] = await fn(items[i], i)
      } catch (err) {
        failed ??= {err}
      }
    }
  }
  await Promise.all(Array.from({length: Math.max(1, Math.min(limit, items.length))}, worker))
  if (failed) throw failed.err
  return out
}

/** A semaphore: run(fn) starts fn when fewer than `limit` are running. */
export function createLimiter(limit: number): <R>(fn: () => Promise<R>) => Promise<R> {
  let running = 0
  const queue: (() => void)[] = []
  return async <R>(fn: () => Promise<R>): Promise<R> => {
    if (running >= limit) await new Promise<void>((resolve) => queue.push(resolve))
    running++
    try {
      return await fn()
    } finally {
      running--
      queue.shift()?.()
    }
  }
}
