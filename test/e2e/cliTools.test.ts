/** velo status, velo config and shell completion, end to end. */
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {lastJson} from '../helpers/cli.js'
import {lastLine, tmpDir, velo, veloOk} from '../helpers/velo.js'

function small(d: string): string {
  const t = join(d, 't')
  mkdirSync(join(t, 'sub'), {recursive: true})
  writeFileSync(join(t, 'a'), 'a\n')
  writeFileSync(join(t, 'sub', 'b'), 'b\n')
  return t
}

describe('velo status', () => {
  it('names the repository and why, and what the first snapshot would record', () => {
    const d = tmpDir()
    const t = small(d)
    const r = veloOk(['status', t], {env: {VELO_REPO: join(d, 'repo')}})
    expect(r.stdout).toContain(`repository ${join(d, 'repo')} ($VELO_REPO): does not exist yet`)
    expect(r.stdout).toMatch(/ref +t-[0-9a-f]{8}: no snapshot yet/)
    expect(r.stdout).toContain('the first snapshot records 2 files, 1 directories, 0 symlinks, 4 B')
    const j = lastJson(veloOk(['status', t, '--repo', join(d, 'repo'), '--json']).stdout)
    expect(j).toMatchObject({type: 'summary', repository: {exists: false, from: 'flag'}, snapshot: null, changes: null, new: {files: 2, dirs: 1}})
  })

  it('lists what the next snapshot would change (stat cache), stores nothing, and shows active mounts', () => {
    const d = tmpDir()
    const t = small(d)
    const env = {VELO_REPO: join(d, 'repo')}
    veloOk(['snapshot', t], {env})
    expect(veloOk(['status', t], {env}).stdout).toContain('no changes: the next snapshot would record the same tree')
    writeFileSync(join(t, 'a'), 'changed\n')
    writeFileSync(join(t, 'new'), 'n\n')
    execFileSync('rm', ['-r', join(t, 'sub')])
    const before = veloOk(['ref', 'list', '--json'], {env}).stdout
    const j = lastJson(veloOk(['status', t, '--json'], {env}).stdout)
    expect(j.counts).toEqual({added: 1, modified: 1, deleted: 1, typeChanged: 0})
    expect((j.changes as {status: string; path: string}[]).map((c) => `${c.status} ${c.path}`)).toEqual(['M a', 'A new', 'D sub/b'])
    expect(veloOk(['ref', 'list', '--json'], {env}).stdout).toBe(before)
    // A mount registered by a live process (here: this test's own) shows up; the registry is the mount engineer's.
    const active = join(d, 'repo', 'mounts', 'active')
    mkdirSync(active, {recursive: true})
    const rec = {id: 'm1', snapshot: 'a'.repeat(64), rev: 'app', mountpoint: '/tmp/somewhere', upper: null, readOnly: true, pid: process.pid, since: new Date().toISOString(), log: '', trace: ''}
    writeFileSync(join(active, '0'.repeat(32)), JSON.stringify(rec))
    const s = veloOk(['status', t], {env}).stdout
    expect(s).toContain('mounts     1')
    expect(s).toMatch(/\/tmp\/somewhere\taaaaaaaaaaaa \(app\)\tro\tpid \d+/)
  })

  it('fails with a hint for a missing directory', () => {
    const d = tmpDir()
    const r = velo(['status', join(d, 'nope')])
    expect(r.code).toBe(16)
    expect(r.stderr).toMatch(/^velo: error: .*nope does not exist\nhint: check the path\n$/)
  })
})

describe('velo config', () => {
  it('sets, gets, lists and unsets settings in velo.json; the environment overrides them', () => {
    const d = tmpDir()
    const repo = join(d, 'repo')
    veloOk(['init', repo])
    const env = {VELO_REPO: repo}
    expect(veloOk(['config', 'get', 'gc.grace'], {env}).stdout).toBe('14d\n')
    expect(veloOk(['config', 'set', 'gc.grace', '30d'], {env}).stdout).toBe('gc.grace = 30d\n')
    expect(JSON.parse(readFileSync(join(repo, 'velo.json'), 'utf8')).gc).toEqual({grace: '30d'})
    expect(lastJson(veloOk(['config', 'get', 'gc.grace', '--json'], {env}).stdout)).toMatchObject({value: '30d', source: 'repo', env: 'VELO_GC_GRACE'})
    expect(lastJson(veloOk(['config', 'get', 'gc.grace', '--json'], {env: {...env, VELO_GC_GRACE: '2w'}}).stdout)).toMatchObject({value: '2w', source: 'env'})
    // gc without --prune uses the setting (and the environment's override).
    expect(lastJson(veloOk(['gc', '--dry-run', '--json'], {env}).stdout)).toMatchObject({prune: '30d'})
    expect(lastJson(veloOk(['gc', '--dry-run', '--json'], {env: {...env, VELO_GC_GRACE: '3d'}}).stdout)).toMatchObject({prune: '3d'})
    const set = velo(['config', 'set', 'compression', '7'], {env: {...env, VELO_COMPRESSION: '1'}})
    expect(set.stderr).toContain('velo: warning: $VELO_COMPRESSION is set: it overrides this setting')
    const list = veloOk(['config', 'list'], {env}).stdout
    expect(list).toContain('compression = 7  (from velo.json)')
    expect(list).toContain('remote.credentials = auto  (default)')
    veloOk(['config', 'unset', 'gc.grace'], {env})
    expect(JSON.parse(readFileSync(join(repo, 'velo.json'), 'utf8')).gc).toBeUndefined()
    const bad = velo(['config', 'set', 'ref.naming', 'fancy'], {env})
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe('velo: error: ref.naming must be one of name-hash, name, path, not "fancy"\nhint: e.g. velo config set ref.naming name-hash\n')
    expect(velo(['config', 'get', 'nosuch'], {env}).stderr).toContain('hint: the settings are: compression, ref.naming')
  })

  it('ref.naming decides the default ref of velo snapshot', () => {
    const d = tmpDir()
    const t = small(d)
    const env = {VELO_REPO: join(d, 'repo')}
    veloOk(['init'], {env})
    veloOk(['config', 'set', 'ref.naming', 'name'], {env})
    expect(veloOk(['snapshot', t], {env}).stdout).toMatch(/^snapshot t: /)
    const path = veloOk(['snapshot', t, '--json'], {env: {...env, VELO_REF_NAMING: 'path'}}).stdout
    expect(lastJson(path).ref).toBe(t.slice(1))
    expect(lastLine(veloOk(['status', t], {env}).stdout)).toBe('mounts     none')
  })
})

describe('shell completion', () => {
  const complete = (shell: 'bash', script: string, line: string[]): string[] => {
    const words = line.map((w) => `'${w}'`).join(' ')
    const out = execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _velo_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], {encoding: 'utf8'})
    return out.split('\n').filter(Boolean)
  }

  it('bash: completes commands, subcommands and flags', () => {
    const script = veloOk(['completion', 'bash']).stdout
    expect(complete('bash', script, ['velo', 'sn'])).toEqual(['snapshot'])
    expect(complete('bash', script, ['velo', 'ref', ''])).toEqual(['delete', 'list', 'set'])
    const ids = (JSON.parse(veloOk(['help', '--json']).stdout) as {id: string}[]).map((c) => c.id)
    const firstWords = [...new Set(ids.map((id) => id.split(' ')[0]).filter((w) => w.startsWith('re')))].sort()
    expect(firstWords).toEqual(expect.arrayContaining(['ref', 'remote', 'repack', 'restore']))
    expect(complete('bash', script, ['velo', 're'])).toEqual(firstWords)
    expect(complete('bash', script, ['velo', 'snapshot', '--r'])).toEqual(['--ref', '--repo'])
    expect(complete('bash', script, ['velo', 'ref', 'set', '--ex'])).toEqual(['--expect'])
    expect(complete('bash', script, ['velo', 'snapshot', 'di'])).toEqual([])
  })

  it('zsh: the script loads and offers commands with their summaries', () => {
    const script = veloOk(['completion', 'zsh']).stdout
    expect(script.startsWith('#compdef velo\n')).toBe(true)
    const d = tmpDir()
    writeFileSync(join(d, '_velo'), script)
    // Stub the completion system: _describe prints what it would offer.
    const out = execFileSync('zsh', ['-f', '-c', `
      compdef() { :; }
      _describe() { local arr=\${@[-1]}; print -l -- \${(P)arr}; }
      _files() { print FILES; }
      source ${join(d, '_velo')}
      words=(velo ref s); CURRENT=3; _velo
      words=(velo snapshot --r); CURRENT=3; _velo
      words=(velo snapshot x); CURRENT=3; _velo
    `], {encoding: 'utf8'})
    const lines = out.split('\n')
    expect(lines).toContain('set:Point a ref at a snapshot or a run')
    expect(lines).toContain('delete:Delete a ref')
    expect(lines.some((l) => l.startsWith('--ref:'))).toBe(true)
    expect(lines).toContain('FILES')
  })
})
