/**
 * The ink progress view in a real terminal (tmux), and the plain and NDJSON progress of the CLI
 * in pipes.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {jsonLines, lastJson} from '../helpers/cli.js'
import {BIN, ROOT, tmpDir, velo} from '../helpers/velo.js'

const SOCKET = `velo-test-${process.pid}`
const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', SOCKET, ...args], {encoding: 'utf8'})

function screen(session: string): string {
  return tmux('capture-pane', '-p', '-t', session)
}

/** Polls the pane until `test` passes (the program runs at its own pace; this is not a timing check). */
async function waitFor(session: string, test: (s: string) => boolean, ms = 120_000): Promise<string> {
  const end = Date.now() + ms
  let s = ''
  while (Date.now() < end) {
    s = screen(session)
    if (test(s)) return s
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`the terminal never showed what was expected; it shows:\n${s}`)
}

function tree(root: string, files: number): void {
  for (let i = 0; i < files; i++) {
    const dir = join(root, `d${i % 10}`)
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, `f${i}`), `content ${i}\n`.repeat(50))
  }
}

afterAll(() => {
  try {
    tmux('kill-server')
  } catch {
    // no server left
  }
})

describe('ink progress view in a terminal', () => {
  // CI sets CI=true, which turns the view off: the panes run without it.
  const env = `env -u CI VELO_PROGRESS_DELAY_MS=0 NO_COLOR=1`

  it('draws phase, counts, bytes, bar and warnings, then a final line, and leaves the result below', async () => {
    tmux('new-session', '-d', '-s', 'demo', '-x', '120', '-y', '20', `${env} ${process.execPath} ${join(ROOT, 'test/helpers/progressDemo.mjs')}; echo EXIT=$?; sleep 600`)
    const mid = await waitFor('demo', (s) => s.includes('5/10 files'))
    expect(mid).toContain('mode ink')
    expect(mid).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] demo · work {2}5\/10 files · 5\.0 MiB\/10\.0 MiB/)
    expect(mid).toMatch(/█{15}░{15} 50%/)
    expect(mid).toContain('velo: warning: a warning above the view')
    tmux('send-keys', '-t', 'demo', 'go', 'Enter')
    const end = await waitFor('demo', (s) => s.includes('EXIT=0'))
    expect(end).toMatch(/✔ demo · 10\/10 files · 10\.0 MiB\/10\.0 MiB · \d+s\n(go\n)?result line/)
    expect(end).not.toContain('50%')
    expect(end).not.toMatch(/\[\d*[AKG]/) // no stray escape sequences
  })

  it('velo snapshot shows the view on a terminal and prints its id after it', async () => {
    const d = tmpDir()
    tree(join(d, 't'), 200)
    tmux('new-session', '-d', '-s', 'snap', '-x', '120', '-y', '20', `${env} VELO_REPO=${join(d, 'repo')} ${process.execPath} ${BIN} snapshot ${join(d, 't')} --ref t; echo EXIT=$?; sleep 600`)
    const end = await waitFor('snap', (s) => s.includes('EXIT='))
    expect(end).toContain('EXIT=0')
    expect(end).toMatch(/✔ snapshot · 200 files · [\d.]+ KiB · \d+s\nsnapshot t: 200 files, .*\n[0-9a-f]{64}\n/)
  })

  it('velo restore shows the view with files and bytes of the total, then its result line', async () => {
    const d = tmpDir()
    tree(join(d, 't'), 200)
    velo(['snapshot', join(d, 't'), '--ref', 't', '--repo', join(d, 'repo'), '-q'])
    tmux('new-session', '-d', '-s', 'restore', '-x', '120', '-y', '20', `${env} VELO_REPO=${join(d, 'repo')} ${process.execPath} ${BIN} restore t ${join(d, 'out')}; echo EXIT=$?; sleep 600`)
    const end = await waitFor('restore', (s) => s.includes('EXIT='))
    expect(end).toContain('EXIT=0')
    expect(end).toMatch(/✔ restore · 200\/200 files · [\d.]+ KiB\/[\d.]+ KiB · \d+s\nrestored [0-9a-f]{12} into .*: 200 files/)
  })
})

describe('progress in pipes', () => {
  const fast = {VELO_PROGRESS_INTERVAL_MS: '0'}

  it('plain lines on stderr (no terminal), the result alone on stdout', () => {
    const d = tmpDir()
    tree(join(d, 't'), 100)
    const r = velo(['snapshot', join(d, 't'), '--repo', join(d, 'repo')], {env: fast})
    expect(r.code).toBe(0)
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines.length).toBeGreaterThan(1)
    for (const l of lines) expect(l).toMatch(/^velo snapshot: (scan|hash|trees) [\d,]+(\/[\d,]+)? files/)
    expect(lines[lines.length - 1]).toMatch(/, done in \d+s$/)
    expect(r.stdout).toMatch(/^snapshot t-[0-9a-f]{8}: 100 files.*\n[0-9a-f]{64}\n$/)
    const q = velo(['restore', 't-' + r.stdout.split('-')[1].slice(0, 8), join(d, 'out'), '--repo', join(d, 'repo'), '-q'], {env: fast})
    expect(q.code).toBe(0)
    expect(q.stderr).toBe('')
  })

  it('NDJSON with --json: progress and warning events, then the summary as the last line', () => {
    const d = tmpDir()
    tree(join(d, 't'), 100)
    execFileSync('mkfifo', [join(d, 't', 'fifo')])
    const r = velo(['snapshot', join(d, 't'), '--repo', join(d, 'repo'), '--json'], {env: fast})
    expect(r.code, r.stderr).toBe(0)
    const all = jsonLines(r.stdout) as {type: string}[]
    const last = all.pop() as Record<string, unknown>
    expect(last).toMatchObject({type: 'summary', id: expect.stringMatching(/^[0-9a-f]{64}$/), files: 100})
    expect(all.some((e) => e.type === 'progress')).toBe(true)
    expect(all.filter((e) => e.type === 'warning')).toEqual([{type: 'warning', message: expect.stringContaining('fifo')}])
    for (const e of all.filter((x) => x.type === 'progress')) {
      expect(Object.keys(e).sort()).toEqual(['bytes', 'command', 'done', 'elapsed', 'eta', 'itemRate', 'phase', 'rate', 'total', 'totalBytes', 'type', 'unit'])
      expect(e).toMatchObject({command: 'snapshot', unit: 'files'})
    }
    expect(r.stderr).toBe('')

    const restore = velo(['restore', String(last.id), join(d, 'out'), '--repo', join(d, 'repo'), '--json'], {env: fast})
    const events = jsonLines(restore.stdout) as {type: string; phase?: string}[]
    expect(events.filter((e) => e.type === 'progress').map((e) => e.phase)).toContain('write')
    expect(lastJson(restore.stdout)).toMatchObject({type: 'summary', files: 100})

    const quiet = velo(['snapshot', join(d, 't'), '--repo', join(d, 'repo2'), '--json', '--quiet'], {env: fast})
    expect((jsonLines(quiet.stdout) as {type: string}[]).map((e) => e.type)).toEqual(['warning', 'summary'])
  })

  it('fsck, gc and repack: NDJSON progress events with counts, then the summary; plain lines without --json', () => {
    const d = tmpDir()
    const repo = join(d, 'repo')
    for (let i = 0; i < 3; i++) {
      tree(join(d, `t${i}`), 20 + i)
      velo(['snapshot', join(d, `t${i}`), '--ref', `t${i}`, '--repo', repo, '-q'])
    }
    const keys = ['bytes', 'command', 'done', 'elapsed', 'eta', 'itemRate', 'phase', 'rate', 'total', 'totalBytes', 'type', 'unit']
    const cases: [string[], string, Record<string, unknown>][] = [
      [['fsck'], 'packs', {type: 'summary', ok: true}],
      [['gc', '--prune', 'now'], 'mark', {type: 'summary', walked: true}],
      [['repack'], 'rewrite', {type: 'summary', packsAfter: expect.any(Number)}],
    ]
    for (const [args, phase, summary] of cases) {
      const r = velo([...args, '--repo', repo, '--json'], {env: fast})
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      const all = jsonLines(r.stdout) as {type: string; command?: string; phase?: string; done?: number}[]
      expect(all.pop(), args[0]).toMatchObject(summary)
      const progress = all.filter((e) => e.type === 'progress')
      expect(progress.length, args[0]).toBe(all.length)
      for (const e of progress) {
        expect(Object.keys(e).sort()).toEqual(keys)
        expect(e.command).toBe(args[0])
      }
      expect(progress.some((e) => e.phase === phase && (e.done ?? 0) > 0), `${args[0]} reports ${phase} with a count`).toBe(true)
      expect(r.stderr).toBe('')
    }
    const plain = velo(['gc', '--prune', 'now', '--repo', repo], {env: fast})
    expect(plain.code).toBe(0)
    expect(plain.stderr).toMatch(/^velo gc: mark [\d,]+ objects/m)
    expect(plain.stdout).toMatch(/^deleted \d+ unreachable objects/)
    const quiet = velo(['repack', '--all', '--repo', repo, '-q'], {env: fast})
    expect(quiet.stderr).toBe('')
  })

  it('ends with an error line when the command fails', () => {
    const d = tmpDir()
    const r = velo(['snapshot', join(d, 'missing'), '--repo', join(d, 'repo'), '--json'], {env: fast})
    expect(r.code).toBe(16)
    expect(lastJson(r.stdout)).toMatchObject({type: 'error', exitCode: 16, error: {code: 'ERR_VELO_NOT_FOUND'}})
  })
})
