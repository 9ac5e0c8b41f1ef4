import {describe, expect, it} from 'vitest'
import {ProgressTracker} from './ProgressTracker.js'
import {formatProgressLine, formatSeconds, progressBar} from './formatProgress.js'
import {JsonProgress} from './JsonProgress.js'
import {PlainProgress} from './PlainProgress.js'
import {progressMode} from './createProgress.js'

function clock(): {now: () => number; advance: (ms: number) => void} {
  let t = 1_000_000
  return {now: () => t, advance: (ms) => (t += ms)}
}

describe('ProgressTracker', () => {
  it('works out rate and ETA from the bytes of the current phase', () => {
    const c = clock()
    const t = new ProgressTracker('restore', c.now)
    t.update({phase: 'write', done: 0, total: 100, bytes: 0, totalBytes: 10_000_000, unit: 'files'})
    c.advance(1000)
    t.update({phase: 'write', done: 10, total: 100, bytes: 1_000_000, totalBytes: 10_000_000, unit: 'files'})
    const e = t.event()!
    expect(e).toMatchObject({type: 'progress', command: 'restore', phase: 'write', unit: 'files', done: 10, total: 100, bytes: 1_000_000, totalBytes: 10_000_000})
    expect(e.rate).toBe(1_000_000)
    expect(e.itemRate).toBe(10)
    expect(e.eta).toBe(9)
    expect(e.elapsed).toBe(1)
  })

  it('falls back to items for the ETA, and restarts the rate with each phase', () => {
    const c = clock()
    const t = new ProgressTracker('fsck', c.now)
    t.update({phase: 'packs', done: 0, total: 4})
    c.advance(2000)
    t.update({phase: 'packs', done: 2, total: 4})
    expect(t.event()).toMatchObject({rate: 0, itemRate: 1, eta: 2, total: 4, totalBytes: null, unit: 'items'})
    t.update({phase: 'chunks', done: 0})
    expect(t.event()).toMatchObject({phase: 'chunks', rate: 0, itemRate: 0, eta: null, total: null})
  })

  it('formats one line, a bar and durations', () => {
    const c = clock()
    const t = new ProgressTracker('snapshot', c.now)
    t.update({phase: 'hash', done: 0, total: 2000, bytes: 0, totalBytes: 4 << 20, unit: 'files'})
    c.advance(1000)
    t.update({phase: 'hash', done: 500, total: 2000, bytes: 1 << 20, totalBytes: 4 << 20, unit: 'files'})
    expect(formatProgressLine(t.event()!)).toBe('snapshot: hash 500/2,000 files (25%), 1.0 MiB/4.0 MiB, 1.0 MiB/s, ETA 3s')
    expect(progressBar(0.5, 10)).toBe('█████░░░░░')
    expect([formatSeconds(7), formatSeconds(125), formatSeconds(3720)]).toEqual(['7s', '2m05s', '1h02m'])
  })
})

describe('renderers', () => {
  it('plain: nothing in the first interval, then at most one line per interval, and a last line', async () => {
    const c = clock()
    const lines: string[] = []
    const p = new PlainProgress({command: 'restore', intervalMs: 1000, now: c.now, write: (l) => lines.push(l)})
    p.update({phase: 'write', done: 1, total: 10})
    c.advance(500)
    p.update({phase: 'write', done: 2, total: 10})
    expect(lines).toEqual([])
    c.advance(600)
    p.update({phase: 'write', done: 3, total: 10})
    c.advance(100)
    p.update({phase: 'write', done: 4, total: 10})
    expect(lines).toEqual(['velo restore: write 3/10 items (30%), 2 items/s, ETA 4s'])
    p.warn('careful')
    await p.done()
    expect(lines.slice(1)).toEqual(['velo: warning: careful', expect.stringMatching(/^velo restore: write 4\/10 items \(40%\).*, done in 1s$/)])
  })

  it('plain: a quick command prints nothing', async () => {
    const lines: string[] = []
    const p = new PlainProgress({command: 'ls', intervalMs: 1000, write: (l) => lines.push(l)})
    p.update({phase: 'x', done: 1})
    await p.done()
    expect(lines).toEqual([])
  })

  it('json: progress events at most once per interval, warnings at once, nothing for quiet progress', () => {
    const c = clock()
    const out: unknown[] = []
    const p = new JsonProgress({command: 'push', intervalMs: 1000, now: c.now, write: (v) => out.push(v)})
    p.update({phase: 'upload', done: 0, total: 3, bytes: 0, totalBytes: 300})
    c.advance(1000)
    p.update({phase: 'upload', done: 1, total: 3, bytes: 100, totalBytes: 300})
    p.update({phase: 'upload', done: 2, total: 3, bytes: 200, totalBytes: 300})
    p.warn('slow remote')
    expect(out).toEqual([
      expect.objectContaining({type: 'progress', command: 'push', phase: 'upload', done: 1, total: 3, bytes: 100, totalBytes: 300}),
      {type: 'warning', message: 'slow remote'},
    ])
    const q: unknown[] = []
    const quiet = new JsonProgress({command: 'push', intervalMs: 0, quiet: true, write: (v) => q.push(v)})
    quiet.update({phase: 'upload', done: 1})
    quiet.warn('w')
    expect(q).toEqual([{type: 'warning', message: 'w'}])
  })

  it('chooses ink only for terminals outside CI, json and quiet first', () => {
    const tty = {isTTY: true}
    const pipe = {isTTY: false}
    const m = (o: Partial<Parameters<typeof progressMode>[0]>) => progressMode({command: 'x', env: {}, stdout: tty, stderr: tty, ...o})
    expect(m({})).toBe('ink')
    expect(m({env: {CI: 'true'}})).toBe('plain')
    expect(m({env: {CI: 'false'}})).toBe('ink')
    expect(m({stdout: pipe})).toBe('plain')
    expect(m({stderr: pipe})).toBe('plain')
    expect(m({json: true, quiet: true})).toBe('json')
    expect(m({quiet: true})).toBe('quiet')
    expect(m({stdout: pipe, env: {VELO_PROGRESS: 'ink'}})).toBe('ink')
    expect(m({env: {VELO_PROGRESS: 'none'}})).toBe('quiet')
  })
})
