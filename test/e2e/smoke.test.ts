import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {lastLine, tmpDir, velo, veloOk} from '../helpers/velo.js'

describe('velo CLI smoke', () => {
  it('prints its version', () => {
    expect(veloOk(['--version']).stdout).toMatch(/^velo\/\d+\.\d+\.\d+ /)
  })

  it('snapshots, lists and restores a small tree', () => {
    const d = tmpDir()
    const tree = join(d, 'tree')
    mkdirSync(join(tree, 'sub'), {recursive: true})
    writeFileSync(join(tree, 'a.txt'), 'hello\n')
    writeFileSync(join(tree, 'sub', 'b.txt'), 'world\n')
    const repo = join(d, 'repo')
    const id = lastLine(veloOk(['snapshot', tree, '--repo', repo, '--ref', 'smoke']).stdout)
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    const ls = JSON.parse(veloOk(['ls', 'smoke', '-r', '--json', '--repo', repo]).stdout)
    expect(ls.map((e: {path: string}) => e.path)).toEqual(['a.txt', 'sub', 'sub/b.txt'])
    veloOk(['restore', id.slice(0, 8), join(d, 'out'), '--repo', repo])
    expect(veloOk(['cat', 'smoke:sub/b.txt', '--repo', repo]).stdout).toBe('world\n')
  })

  it('reports an unknown revision as one line with a hint and exit code 16', () => {
    const d = tmpDir()
    mkdirSync(join(d, 't'))
    veloOk(['snapshot', join(d, 't'), '--repo', join(d, 'r')])
    const r = velo(['show', 'nosuchref', '--repo', join(d, 'r')])
    expect(r.code).toBe(16)
    expect(r.stderr).toMatch(/^velo: error: unknown revision/)
    expect(r.stderr).not.toMatch(/at .*\.js/)
    const j = velo(['show', 'nosuchref', '--json', '--repo', join(d, 'r')])
    expect(JSON.parse(j.stdout).error.code).toBe('ERR_VELO_NOT_FOUND')
  })
})
