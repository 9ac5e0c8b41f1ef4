/**
 * Which remote a mount fetches missing content from (src/mount/mountRemote.ts), on a directory
 * remote: REMOTE/REF pulls the metadata when the tracking ref is not known yet, --remote names
 * one for any revision, a local ref uses the remote tracking it, anything else has none.
 */
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it, onTestFinished} from 'vitest'
import {pull} from '../../src/api/pull.js'
import {push} from '../../src/api/push.js'
import {snapshot} from '../../src/api/snapshot.js'
import {prepareMountRemote} from '../../src/mount/mountRemote.js'
import {addRemote} from '../../src/remote/RemoteConfig.js'
import {Repository, initRepository} from '../../src/repo/Repository.js'
import {VeloError} from '../../src/util/errors.js'
import {makeTree} from '../helpers/trees.js'

function open(dir: string, name: string, remote: string): Repository {
  initRepository(join(dir, name))
  const r = Repository.open(join(dir, name))
  onTestFinished(() => r.close())
  addRemote(r, 'origin', remote)
  return r
}

describe('prepareMountRemote', () => {
  it('picks the remote of REMOTE/REF, --remote or a tracking ref, and pulls metadata only when needed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'velo-mount-remote-'))
    onTestFinished(() => rmSync(dir, {recursive: true, force: true}))
    const remote = join(dir, 'remote')
    const a = open(dir, 'a', remote)
    makeTree(join(dir, 't'), {'x.txt': 'x\n', 'd/y.txt': 'y\n'})
    const id = (await snapshot(a, {dir: join(dir, 't'), ref: 'app', threads: 1})).id
    await push(a, {remote: 'origin'})

    const b = open(dir, 'b', remote)
    const logs: string[] = []
    expect(await prepareMountRemote(b, 'origin/app', {log: (m) => logs.push(m)})).toEqual({remote: 'origin', pulled: 'app'})
    expect(logs[0]).toMatch(/^fetched the metadata of origin\/app/)
    // Metadata only, tracking ref only.
    expect(b.resolveSnapshot('origin/app')).toBe(id)
    expect(b.refs.read('app')).toBeUndefined()
    expect(readdirSync(b.packsDir).filter((n) => n.startsWith('d-'))).toEqual([])
    // Known now: no second pull.
    expect(await prepareMountRemote(b, 'origin/app~0')).toEqual({remote: 'origin'})

    // A plain id: no remote unless named.
    expect(await prepareMountRemote(b, id)).toBeUndefined()
    expect(await prepareMountRemote(b, id, {remote: 'origin'})).toEqual({remote: 'origin'})
    const err = await prepareMountRemote(b, id, {remote: 'nope'}).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(VeloError)
    expect((err as VeloError).code).toBe('ERR_VELO_NOT_FOUND')

    // A local ref: the remote tracking it (after a metadata-only pull), none for a ref of its own.
    await pull(b, {remote: 'origin', refs: ['app'], metadataOnly: true})
    expect(b.refs.read('app')).toBe(id)
    expect(await prepareMountRemote(b, 'app')).toEqual({remote: 'origin'})
    b.refs.update('mine', {to: id, command: 'test'})
    expect(await prepareMountRemote(b, 'mine')).toBeUndefined()

    // A remote ref that does not exist: the remote says so.
    const missing = await prepareMountRemote(b, 'origin/nothing').then(() => undefined, (e: unknown) => e)
    expect((missing as VeloError).code).toBe('ERR_VELO_NOT_FOUND')
    expect((missing as VeloError).message).toMatch(/has no ref nothing/)
  })
})
