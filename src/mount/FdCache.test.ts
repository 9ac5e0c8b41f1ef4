/** Descriptors of upper files: reuse, eviction only when unused, renames and deletions. */
import {chmodSync, fstatSync, mkdirSync, mkdtempSync, read as fsRead, readFileSync, renameSync, rmSync, write as fsWrite, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {FdCache} from './FdCache.js'

const dir = mkdtempSync(join(tmpdir(), 'velo-fdcache-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const fdOf = (c: FdCache, p: string, write = false): Promise<number> => c.use(p, write, async (fd) => fd)

describe('FdCache', () => {
  it('reuses a descriptor, and closes evicted ones only when no operation uses them', async () => {
    const c = new FdCache(2)
    for (const n of ['a', 'b', 'c']) writeFileSync(join(dir, n), n)
    const a = await fdOf(c, join(dir, 'a'))
    expect(await fdOf(c, join(dir, 'a'))).toBe(a)
    let release!: () => void
    const busy = c.use(join(dir, 'b'), false, (fd) => new Promise<number>((r) => (release = () => r(fd))))
    await fdOf(c, join(dir, 'c')) // evicts a (b is in use)
    expect(c.size).toBe(2)
    expect(() => fstatSync(a)).toThrow() // closed
    const fdB = await (release(), busy)
    expect(fstatSync(fdB).size).toBe(1)
    c.closeAll()
    expect(() => fstatSync(fdB)).toThrow()
  })

  it('follows renames of files and directories, and forgets deleted files', async () => {
    const c = new FdCache()
    mkdirSync(join(dir, 'd'))
    writeFileSync(join(dir, 'd', 'f'), 'content')
    const fd = await fdOf(c, join(dir, 'd', 'f'))
    renameSync(join(dir, 'd'), join(dir, 'e'))
    c.rename(join(dir, 'd'), join(dir, 'e'))
    expect(await fdOf(c, join(dir, 'e', 'f'))).toBe(fd)
    const buf = Buffer.alloc(7)
    await new Promise((r) => fsRead(fd, buf, 0, 7, 0, r))
    expect(buf.toString()).toBe('content')
    c.forget(join(dir, 'e'))
    expect(c.size).toBe(0)
    expect(() => fstatSync(fd)).toThrow()
  })

  it('writes to a file without write permission for its owner (the kernel allowed it)', async () => {
    const c = new FdCache()
    const p = join(dir, 'ro')
    writeFileSync(p, 'x')
    chmodSync(p, 0o444)
    await c.use(p, true, (fd) => new Promise<void>((r, j) => fsWrite(fd, 'y', 0, (e) => (e ? j(e) : r()))))
    expect(readFileSync(p, 'utf8')).toBe('y')
    expect(fstatSync(await fdOf(c, p)).mode & 0o777).toBe(0o444)
    c.closeAll()
  })
})
