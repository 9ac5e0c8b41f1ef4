/**
 * Every command that writes objects or moves refs holds the shared repository lock, so gc (which
 * takes the exclusive one) cannot delete what it is fetching, uploading or pointing a ref at. Each
 * command is held at the failpoint right after it took the lock (VELO_FAILPOINT_WAIT), gc is
 * refused (ERR_VELO_LOCKED, naming the command), then the command is let go and must succeed.
 */
import {spawn, spawnSync} from 'node:child_process'
import {cpSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BIN, lastLine, tmpDir, velo, veloOk} from '../helpers/velo.js'

interface Held {
  name: string
  point: string
  repo: string
  done: Promise<{code: number | null; stdout: string; stderr: string}>
  reached: Promise<void>
}

/** Runs velo held at the failpoint `locked:<point>` (the lock's command, first word) until `go` exists. */
function hold(name: string, args: string[], repo: string, go: string, point = name.split(' ')[0]): Held {
  const p = spawn(process.execPath, [BIN, ...args], {
    env: {...process.env, VELO_FSYNC: '0', NO_COLOR: '1', VELO_FAILPOINT_WAIT: `locked:${point}:${go}`},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  let onReached: () => void = () => undefined
  const reached = new Promise<void>((r) => (onReached = r))
  p.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
  p.stderr.on('data', (b: Buffer) => {
    stderr += b.toString()
    if (stderr.includes(`failpoint locked:${point} reached`)) onReached()
  })
  const done = new Promise<{code: number | null; stdout: string; stderr: string}>((resolve) =>
    p.on('close', (code) => {
      onReached() // never reached: the test fails on the exit code below
      resolve({code, stdout, stderr})
    }),
  )
  return {name, point, repo, done, reached}
}

describe('writers hold the shared repository lock', () => {
  it('gc is refused while push, pull, clone, import tar, import git or ref set runs; each then succeeds', async () => {
    const d = tmpDir('velo-writer-locks-')
    const tree = join(d, 'tree')
    mkdirSync(join(tree, 'sub'), {recursive: true})
    writeFileSync(join(tree, 'a.txt'), 'a\n')
    writeFileSync(join(tree, 'sub', 'b.txt'), 'b\n')
    const remote = join(d, 'remote')
    const repos = Object.fromEntries(['push', 'pull', 'import tar', 'import git', 'ref set'].map((n) => [n, join(d, n.replace(' ', '-'))]))
    veloOk(['snapshot', tree, '--repo', repos.push, '--ref', 'app'])
    for (const n of ['import tar', 'import git', 'ref set']) cpSync(repos.push, repos[n], {recursive: true})
    veloOk(['snapshot', tree, '--repo', repos.pull, '--ref', 'mine'])
    veloOk(['remote', 'add', 'origin', remote, '--repo', repos.push])
    veloOk(['push', 'origin', 'app', '--repo', repos.push])
    writeFileSync(join(tree, 'c.txt'), 'c\n')
    veloOk(['snapshot', tree, '--repo', repos.push, '--ref', 'app']) // something new to push
    veloOk(['remote', 'add', 'origin', remote, '--repo', repos.pull])
    const tar = join(d, 'tree.tar')
    expect(spawnSync('tar', ['-cf', tar, '-C', tree, '.']).status).toBe(0)
    const git = join(d, 'git')
    mkdirSync(git)
    for (const args of [['init', '-q'], ['add', '.'], ['-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-qm', 'x']]) {
      if (args[0] === 'add') writeFileSync(join(git, 'g.txt'), 'g\n')
      expect(spawnSync('git', args, {cwd: git}).status).toBe(0)
    }
    const cloned = join(d, 'clone')

    const go = join(d, 'go')
    const held = [
      hold('push', ['push', 'origin', 'app', '--repo', repos.push, '--json'], repos.push, go),
      hold('pull', ['pull', 'origin', '--repo', repos.pull, '--json'], repos.pull, go),
      hold('clone', ['clone', remote, cloned, '--json'], cloned, go, 'pull'), // clone = init + pull
      hold('import tar', ['import', 'tar', tar, '--ref', 'fromtar', '--repo', repos['import tar'], '--json'], repos['import tar'], go),
      hold('import git', ['import', 'git', git, '--ref', 'fromgit', '--repo', repos['import git'], '--json'], repos['import git'], go),
      hold('ref set', ['ref', 'set', 'other', 'app', '--repo', repos['ref set'], '--json'], repos['ref set'], go),
    ]
    try {
      await Promise.all(held.map((h) => h.reached))
      for (const h of held) {
        const gc = velo(['gc', '--prune', 'now', '--repo', h.repo, '--json'], {env: {VELO_LOCK_WAIT: '0'}})
        expect(gc.code, `gc during ${h.name}: ${gc.stdout}${gc.stderr}`).toBe(11)
        const err = JSON.parse(lastLine(gc.stdout)).error
        expect(err.code).toBe('ERR_VELO_LOCKED')
        expect(err.data.locks.map((l: {owner: {command: string}}) => l.owner.command).join(), h.name).toContain(h.point)
      }
    } finally {
      writeFileSync(go, '')
      await Promise.all(held.map((h) => h.done))
    }
    for (const h of held) {
      const r = await h.done
      expect(r.code, `${h.name}: ${r.stdout}${r.stderr}`).toBe(0)
    }
    // The lock went with the command: gc runs now, and nothing it needed was lost.
    veloOk(['gc', '--prune', 'now', '--repo', repos.pull], {env: {VELO_LOCK_WAIT: '0'}})
    veloOk(['fsck', '--repo', repos.pull])
  })
})
