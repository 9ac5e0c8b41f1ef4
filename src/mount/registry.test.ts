/** The mount registry's pure parts and its files: mountinfo parsing, keys, register/unregister, pruning. */
import {mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import type {Oid} from '../objects/oid.js'
import {activeRecord, canonicalMountpoint, findMount, isVeloMount, listMounts, mountInfo, parseMountinfo, registerMount, unregisterMount, type MountRecord} from './registry.js'

const dir = mkdtempSync(join(tmpdir(), 'velo-registry-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/root rw',
  '101 22 0:52 / /tmp/with\\040space rw,nosuid,nodev,relatime shared:60 - fuse.velo velo rw,user_id=0,group_id=0,default_permissions',
  '102 22 0:53 / /tmp/plain rw,relatime shared:61 - fuse proto rw,user_id=0',
  '103 22 0:54 / /tmp/plain rw,relatime shared:62 - fuse.velo velo rw',
].join('\n')

function record(id: string, mountpoint: string, pid = process.pid): MountRecord {
  mkdirSync(join(dir, 'repo', 'mounts', id), {recursive: true})
  return {id, snapshot: 'a'.repeat(64) as Oid, rev: 'r', mountpoint, upper: null, readOnly: true, pid, since: new Date().toISOString(), log: '', trace: ''}
}

describe('mount registry', () => {
  it('parses /proc/self/mountinfo, with escaped paths, the last mount on a path winning', () => {
    const lines = parseMountinfo(MOUNTINFO)
    expect(lines.map((l) => l.mountpoint)).toEqual(['/', '/tmp/with space', '/tmp/plain', '/tmp/plain'])
    expect(mountInfo('/tmp/with space', MOUNTINFO)).toMatchObject({mountId: 101, fstype: 'fuse.velo', source: 'velo'})
    expect(isVeloMount(mountInfo('/tmp/plain', MOUNTINFO))).toBe(true)
    expect(mountInfo('/tmp/none', MOUNTINFO)).toBeUndefined()
    expect(isVeloMount(undefined)).toBe(false)
  })

  it('keys a mount point by its absolute path with the parent resolved, without touching it', () => {
    expect(canonicalMountpoint('/')).toBe('/')
    expect(canonicalMountpoint(join(dir, 'x', '..', 'not-yet'))).toBe(join(dir, 'not-yet'))
    expect(canonicalMountpoint('relative')).toBe(join(process.cwd(), 'relative'))
  })

  it('registers, finds, lists, unregisters and prunes records of dead processes', () => {
    const repo = join(dir, 'repo')
    const live = record('m-live', join(dir, 'live'))
    const dead = record('m-dead', join(dir, 'dead'), 2 ** 22 + 12345) // above pid_max: never a live pid
    registerMount(repo, live)
    registerMount(repo, dead)
    expect(findMount(repo, join(dir, 'live'))?.id).toBe('m-live')
    expect(findMount(repo, join(dir, 'dead'))).toBeUndefined()
    expect(activeRecord(repo, join(dir, 'dead'))?.id).toBe('m-dead')
    expect(listMounts(repo, {prune: false}).map((m) => m.id)).toEqual(['m-live'])
    expect(readdirSync(join(repo, 'mounts', 'active'))).toHaveLength(2)
    expect(listMounts(repo).map((m) => m.id)).toEqual(['m-live'])
    expect(readdirSync(join(repo, 'mounts', 'active'))).toHaveLength(1)
    expect(JSON.parse(readFileSync(join(repo, 'mounts', 'm-dead', 'mount.json'), 'utf8')).ended).toBeTruthy()
    unregisterMount(repo, live)
    expect(findMount(repo, join(dir, 'live'))).toBeUndefined()
    expect(listMounts(repo)).toEqual([])
    expect(findMount(join(dir, 'no-repo'), '/x')).toBeUndefined()
  })
})
