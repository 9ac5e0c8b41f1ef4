/**
 * End-to-end: `velo import tar|git` and `velo export tar|git` as users run them, piped through the
 * real tar, gzip and git; --json results, exit codes and error codes.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {describeTree, git, makeTree, rawTar, run, runBinary} from '../helpers/interop.js'
import {BIN, lastLine, tmpDir, velo, veloOk} from '../helpers/velo.js'

/** velo with binary stdin and stdout. */
function veloBin(args: string[], input?: Buffer): {code: number; stdout: Buffer; stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {input, env: {...process.env, VELO_FSYNC: '0', NO_COLOR: '1'}, maxBuffer: 256 << 20, timeout: 100_000})
  if (r.error) throw r.error
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString()}
}

/** The last JSON line of --json output (the result or the error). */
function json(stdout: string): Record<string, unknown> {
  return JSON.parse(lastLine(stdout)) as Record<string, unknown>
}

describe('velo import/export tar (CLI)', () => {
  it('exports to a pipe that tar extracts, and imports from standard input', () => {
    const d = tmpDir()
    const repo = join(d, 'repo')
    const src = join(d, 'src')
    makeTree(src, {'a.txt': 'a\n', 'x.sh': {exec: 'x'}, l: {symlink: 'a.txt'}, e: {}, sub: {'b.txt': ''}})
    veloOk(['snapshot', src, '--repo', repo, '--ref', 'src'])
    const tarOut = veloBin(['export', 'tar', 'src', '--repo', repo])
    expect(tarOut.code, tarOut.stderr).toBe(0)
    const out = join(d, 'out')
    mkdirSync(out)
    run('tar', ['-x', '-C', out], {input: tarOut.stdout})
    expect(describeTree(out)).toEqual(describeTree(src))
    // --json with the archive on stdout: the result goes to stderr, the archive stays intact.
    const j = veloBin(['export', 'tar', 'src', '--repo', repo, '--json'])
    expect(j.stdout.equals(tarOut.stdout)).toBe(true)
    expect(JSON.parse(lastLine(j.stderr))).toMatchObject({output: '-', files: 3, dirs: 2, symlinks: 1})
    // gzip from stdin: detected by magic, recorded under --ref.
    const gz = runBinary('gzip', ['-c'], {input: tarOut.stdout})
    const imp = veloBin(['import', 'tar', '-', '--ref', 'back', '--repo', repo, '--json'], gz)
    expect(imp.code, imp.stderr).toBe(0)
    const r = json(imp.stdout.toString())
    expect(r).toMatchObject({ref: 'back', compression: 'gzip', files: 3, dirs: 2, symlinks: 1})
    expect(r.tree).toBe(json(veloOk(['show', 'src', '--json', '--repo', repo]).stdout).tree)
    // Standard input needs --ref.
    const noRef = veloBin(['import', 'tar', '-', '--repo', repo], gz)
    expect(noRef.code).toBe(2)
    expect(noRef.stderr).toMatch(/needs --ref/)
  })

  it('writes -o FILE (compressed by its name) and imports it under a ref named after the file', () => {
    const d = tmpDir()
    const repo = join(d, 'repo')
    const src = join(d, 'src')
    makeTree(src, {'a.txt': 'a'.repeat(4096), sub: {'b.txt': 'b'}})
    veloOk(['snapshot', src, '--repo', repo, '--ref', 'src'])
    const file = join(d, 'src.tar.zst')
    const e = json(veloOk(['export', 'tar', 'src', '-o', file, '--repo', repo, '--json']).stdout)
    expect(e).toMatchObject({output: file, compression: 'zstd', files: 2})
    expect(readFileSync(file).subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe(true)
    const id = lastLine(veloOk(['import', 'tar', file, '--repo', repo]).stdout)
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    const refs = json(veloOk(['ref', 'list', '--json', '--repo', repo]).stdout) as unknown
    expect(JSON.stringify(refs)).toMatch(/"src\.tar\.zst-[0-9a-f]{8}"/)
    expect(veloOk(['cat', `${id.slice(0, 12)}:sub/b.txt`, '--repo', repo]).stdout).toBe('b')
  })

  it('refuses hostile archives with ERR_VELO_UNSAFE_PATH (exit 13) and OCI whiteouts without --base (exit 2)', () => {
    const d = tmpDir()
    const repo = join(d, 'repo')
    veloOk(['init', repo])
    const evil = join(d, 'evil.tar')
    writeFileSync(evil, rawTar([{name: 'ok.txt', content: 'fine'}, {name: '../../etc/cron.d/x', content: 'pwned'}]))
    const r = velo(['import', 'tar', evil, '--ref', 'evil', '--repo', repo, '--json'])
    expect(r.code).toBe(13)
    expect(json(r.stdout)).toMatchObject({error: {code: 'ERR_VELO_UNSAFE_PATH', message: expect.stringMatching(/climbs out/)}})
    const text = velo(['import', 'tar', evil, '--ref', 'evil', '--repo', repo])
    expect(text.stderr).toMatch(/^velo: error: entry "..\/..\/etc\/cron.d\/x" climbs out of the archive with \.\.\nhint: /)
    expect(velo(['show', 'evil', '--repo', repo]).code).toBe(16)
    const layer = join(d, 'layer.tar')
    writeFileSync(layer, rawTar([{name: 'etc/.wh.passwd', content: ''}]))
    const w = velo(['import', 'tar', layer, '--ref', 'l', '--repo', repo])
    expect(w.code).toBe(2)
    expect(w.stderr).toMatch(/whiteouts.*\nhint: .*--base REV/)
  })
})

describe('velo import/export git (CLI)', () => {
  it('imports a git history and exports a snapshot to a new repository git accepts', () => {
    const d = tmpDir()
    const repo = join(d, 'repo')
    const g = join(d, 'g')
    mkdirSync(g)
    git(g, 'init', '-q', '-b', 'main')
    makeTree(g, {'a.txt': 'a\n', 'run.sh': {exec: 'r'}, l: {symlink: 'a.txt'}})
    git(g, 'add', '-A')
    git(g, 'commit', '-q', '-m', 'one')
    writeFileSync(join(g, 'b.txt'), 'b\n')
    git(g, 'add', '-A')
    git(g, 'commit', '-q', '-m', 'two')
    const head = git(g, 'rev-parse', 'HEAD')
    const imp = json(veloOk(['import', 'git', g, '--history', '1', '--ref', 'app', '--repo', repo, '--json']).stdout)
    expect(imp).toMatchObject({commit: head, imported: 2, ref: 'app'})
    const show = json(veloOk(['show', 'app', '--json', '--repo', repo]).stdout)
    expect(show).toMatchObject({message: 'two', meta: {'git.commit': head}})
    expect(json(veloOk(['import', 'git', g, '--ref', 'app', '--repo', repo, '--json']).stdout)).toMatchObject({imported: 0, readCommits: 0})
    // Export: an empty directory is reported, git fsck --strict is clean, a clone is the tree.
    const src = join(d, 'src')
    makeTree(src, {'x.txt': 'x', hollow: {}})
    veloOk(['snapshot', src, '--repo', repo, '--ref', 'snap'])
    const out = join(d, 'out')
    const e = velo(['export', 'git', 'snap', out, '--repo', repo])
    expect(e.code, e.stderr).toBe(0)
    expect(e.stderr).toMatch(/velo: warning: git cannot hold empty directories: hollow/)
    const commit = lastLine(e.stdout)
    expect(git(out, 'rev-parse', 'refs/heads/snap')).toBe(commit)
    git(out, 'fsck', '--strict', '--no-dangling')
    const ej = json(veloOk(['export', 'git', 'snap', out, '--repo', repo, '--json']).stdout)
    expect(ej).toMatchObject({commit, createdCommit: false, emptyDirs: ['hollow']})
    const bad = velo(['import', 'git', d, '--repo', repo, '--json'])
    expect(bad.code).toBe(16)
    expect(json(bad.stdout)).toMatchObject({error: {code: 'ERR_VELO_NOT_FOUND'}})
  })
})
