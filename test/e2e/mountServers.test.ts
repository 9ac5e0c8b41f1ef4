/**
 * The two shortcuts of `velo checkout` mounts: the spare server a mount leaves waiting (the next
 * checkout of the repository is served by it, with the same results and errors as a server of its
 * own), and `velo snapshot MNT` answered by the mount's server (the same snapshot as the CLI makes
 * by itself, and as a snapshot of a restored and modified copy). Real FUSE mounts.
 */
import {appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {fuseTestsEnabled, mountScratch, mountsUnder, waitFor} from '../helpers/mounts.js'
import {makeTree} from '../helpers/trees.js'
import {lastLine, velo, veloOk} from '../helpers/velo.js'

const SPEC = {
  'a.txt': 'hello\n',
  link: {symlink: 'a.txt'},
  sub: {dir: {deep: {dir: {f: 'deep\n', g: 'gee\n'}}, 's.txt': 'sss\n'}},
  d: {dir: {one: '1\n', two: '2\n'}},
}

interface Rec {
  id: string
  pid: number
  log: string
  mountpoint: string
}

const uid = process.getuid?.() ?? 0

describe.runIf(fuseTestsEnabled())('velo checkout: spare server and snapshots through the mount server (real FUSE)', () => {
  it('serves the next checkout from the spare server, with the same results and errors', async () => {
    const root = mountScratch('velo-spare-')
    const src = join(root, 'src')
    makeTree(src, SPEC)
    const repo = join(root, 'repo')
    veloOk(['snapshot', src, '--repo', repo, '--ref', 'base'])
    const sock = join(repo, 'cache', `mount-spare-${uid}.sock`)
    const checkout = (name: string, rev = 'base'): Rec => {
      mkdirSync(join(root, name), {recursive: true})
      return JSON.parse(veloOk(['checkout', rev, join(root, name), '--repo', repo, '--json']).stdout) as Rec
    }
    const first = checkout('m1')
    expect(readFileSync(first.log, 'utf8')).not.toMatch(/serving from spare process/)
    await waitFor(() => existsSync(sock), 30_000, 'the spare server')
    const spare = Number(readFileSync(join(repo, 'cache', `mount-spare-${uid}.pid`), 'utf8'))
    const second = checkout('m2')
    expect(second.pid).toBe(spare)
    expect(readFileSync(second.log, 'utf8')).toMatch(/serving from spare process/)
    expect(readFileSync(join(root, 'm2', 'sub', 'deep', 'f'), 'utf8')).toBe('deep\n')
    writeFileSync(join(root, 'm2', 'new.txt'), 'new\n')
    expect(existsSync(join(root, 'm1', 'new.txt'))).toBe(false)
    const listed = JSON.parse(veloOk(['mounts', '--repo', repo, '--json']).stdout) as Rec[]
    expect(listed.map((m) => m.pid).sort()).toEqual([first.pid, second.pid].sort())

    // An error met by a spare is reported as a server of its own reports it, and leaves nothing mounted.
    await waitFor(() => existsSync(sock), 30_000, 'a spare server again')
    mkdirSync(join(root, 'm3'))
    const r = velo(['checkout', 'nosuchrev', join(root, 'm3'), '--repo', repo, '--json'])
    expect(r.code).toBe(16)
    expect(JSON.parse(lastLine(r.stdout)).error.code).toBe('ERR_VELO_NOT_FOUND')
    expect(mountsUnder(join(root, 'm3'))).toEqual([])

    // The failed spare exits; the next checkout starts its own server, which leaves a new spare.
    const own = checkout('m5')
    expect(readFileSync(own.log, 'utf8')).not.toMatch(/serving from spare process/)
    // A spare whose socket is dead is bypassed (the launcher starts its own server).
    await waitFor(() => existsSync(sock), 30_000, 'the next spare server')
    const stale = Number(readFileSync(join(repo, 'cache', `mount-spare-${uid}.pid`), 'utf8'))
    process.kill(stale, 'SIGKILL')
    await waitFor(() => !existsSync(`/proc/${stale}`), 5000, 'the spare to die')
    writeFileSync(join(repo, 'cache', `mount-spare-${uid}.pid`), '999999999')
    const third = checkout('m4')
    expect(third.pid).not.toBe(stale)
    expect(readFileSync(join(root, 'm4', 'a.txt'), 'utf8')).toBe('hello\n')
    for (const m of ['m1', 'm2', 'm4', 'm5']) veloOk(['unmount', join(root, m), '--repo', repo])
    expect(mountsUnder(root)).toEqual([])
  })

  it('makes velo snapshot MNT in the mount server: the same snapshot as the CLI and as a modified copy', async () => {
    const root = mountScratch('velo-ctl-')
    const src = join(root, 'src')
    makeTree(src, SPEC)
    const repo = join(root, 'repo')
    const env = {VELO_MOUNT_SPARE: '0'}
    veloOk(['snapshot', src, '--repo', repo, '--ref', 'base'], {env})
    const mnt = join(root, 'm')
    mkdirSync(mnt)
    const rec = JSON.parse(veloOk(['checkout', 'base', mnt, '--repo', repo, '--json'], {env}).stdout) as Rec
    appendFileSync(join(mnt, 'a.txt'), 'more\n')
    writeFileSync(join(mnt, 'sub', 'deep', 'new'), 'n\n')
    unlinkSync(join(mnt, 'd', 'one'))
    rmSync(join(mnt, 'sub', 'deep', 'g'))
    const snap = (dir: string, ref: string, extra: Record<string, string> = {}): {id: string; tree: string; parent: string; hashedFiles: number} =>
      JSON.parse(lastLine(veloOk(['snapshot', dir, '--repo', repo, '--ref', ref, '--json'], {env: {...env, ...extra}}).stdout))
    const viaServer = snap(mnt, 'changed')
    expect(readFileSync(rec.log, 'utf8')).toMatch(new RegExp(`snapshot ${viaServer.id} in \\d+ ms`))
    expect(viaServer.hashedFiles).toBe(2)
    const local = snap(mnt, 'changed-local', {VELO_MOUNT_CONTROL: '0'})
    expect(local.tree).toBe(viaServer.tree)
    // The same changes on a restored copy.
    const copy = join(root, 'copy')
    veloOk(['restore', 'base', copy, '--repo', repo], {env})
    appendFileSync(join(copy, 'a.txt'), 'more\n')
    writeFileSync(join(copy, 'sub', 'deep', 'new'), 'n\n')
    unlinkSync(join(copy, 'd', 'one'))
    rmSync(join(copy, 'sub', 'deep', 'g'))
    expect(snap(copy, 'copy').tree).toBe(viaServer.tree)
    // A second snapshot through the server has the first as its parent (the upper layer remembers it).
    writeFileSync(join(mnt, 'later'), 'l\n')
    const again = snap(mnt, 'changed')
    expect(again.parent).toBe(local.id)
    veloOk(['unmount', mnt, '--repo', repo])
    expect(mountsUnder(root)).toEqual([])
  })
})
