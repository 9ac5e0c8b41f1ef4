/**
 * velo deps through the API with a real repository and a real install command (sh): miss, then
 * hits restored (--materialize) and recognised as already provided, a refusal to replace other
 * files, --status, and the hint when mounting is unavailable (the mount function is the seam the
 * command fills with the velo checkout launcher; here it fails as that launcher does without FUSE).
 */
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {deps, depsStatus, type DepsOptions} from '../../src/api/deps.js'
import type {MountRecord} from '../../src/mount/registry.js'
import {planDeps} from '../../src/deps/planDeps.js'
import {resolveDepsSpec} from '../../src/deps/presets.js'
import {Repository} from '../../src/repo/Repository.js'
import {VeloError} from '../../src/util/errors.js'
import {scratchDir, walkTree} from '../helpers/trees.js'

const INSTALL = ['sh', '-c', 'mkdir -p deps/bin && cat lock > deps/installed && printf "#!/bin/sh\\necho ok\\n" > deps/bin/tool && chmod +x deps/bin/tool && ln -sf bin/tool deps/link']

describe('deps (api)', () => {
  let scratch: {path: string; cleanup: () => void}
  let repo: Repository
  let app: string
  beforeEach(() => {
    scratch = scratchDir('velo-deps-it-')
    repo = Repository.open(join(scratch.path, 'repo'), {create: true})
    app = join(scratch.path, 'app')
    mkdirSync(app)
    writeFileSync(join(app, 'lock'), 'v1\n')
  })
  afterEach(() => {
    repo.close()
    scratch.cleanup()
  })

  const plan = () => planDeps(resolveDepsSpec({keyFiles: ['lock'], dir: 'deps', argv: INSTALL}, {env: {}, home: '/nowhere'}), {cwd: app})
  const noMount = async (): Promise<MountRecord> => {
    throw new VeloError('ERR_VELO_MOUNT_UNAVAILABLE', 'FUSE is not usable: /dev/fuse does not exist', {hint: 'load the kernel module (modprobe fuse)'})
  }
  const opts = (more: Partial<DepsOptions> = {}): DepsOptions => ({plan: plan(), mount: noMount, installStdout: 'stderr', ...more})

  it('installs on a miss, then restores the same tree and recognises it', async () => {
    expect(await depsStatus(repo, {plan: plan()})).toMatchObject({hit: false, local: null, remote: null, provided: false})
    const miss = await deps(repo, opts())
    expect(miss).toMatchObject({hit: false, source: 'installed', provided: 'installed', pushed: null, install: {argv: INSTALL, exitCode: 0}})
    expect(miss.recorded?.files).toBe(2)
    expect(repo.refs.read(miss.ref)).toBe(miss.snapshot)
    expect(repo.readSnapshot(miss.snapshot).meta).toMatchObject({'deps.key': miss.key, 'deps.manager': 'custom'})
    const installed = walkTree(join(app, 'deps'))

    // The installed directory is the snapshot: nothing to do.
    expect(await deps(repo, opts({materialize: true}))).toMatchObject({hit: true, source: 'local', provided: 'already'})
    expect(await depsStatus(repo, {plan: plan(), materialize: true})).toMatchObject({hit: true, source: 'local', provided: true})

    rmSync(join(app, 'deps'), {recursive: true, force: true})
    expect(await deps(repo, opts({materialize: true}))).toMatchObject({hit: true, provided: 'restored', snapshot: miss.snapshot})
    expect(walkTree(join(app, 'deps'))).toEqual(installed)
    expect(await deps(repo, opts({materialize: true}))).toMatchObject({provided: 'already'})

    // Other files in DIR: refused, then replaced with force.
    writeFileSync(join(app, 'deps', 'installed'), 'changed\n')
    await expect(deps(repo, opts({materialize: true}))).rejects.toMatchObject({code: 'ERR_VELO_TARGET_NOT_EMPTY'})
    expect(await deps(repo, opts({materialize: true, force: true}))).toMatchObject({provided: 'restored'})
    expect(readFileSync(join(app, 'deps', 'installed'), 'utf8')).toBe('v1\n')

    // Another lockfile: another key, a miss.
    writeFileSync(join(app, 'lock'), 'v2\n')
    const other = await depsStatus(repo, {plan: plan()})
    expect(other).toMatchObject({hit: false, local: null})
    expect(other.key).not.toBe(miss.key)
  })

  it('says to use --materialize when mounting is unavailable', async () => {
    await deps(repo, opts())
    rmSync(join(app, 'deps'), {recursive: true, force: true})
    const err = await deps(repo, opts()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VeloError)
    expect(err).toMatchObject({code: 'ERR_VELO_MOUNT_UNAVAILABLE', exitCode: 15})
    expect((err as VeloError).hint).toMatch(/--materialize/)
  })

  it('records nothing when the install command fails, and exits with its code', async () => {
    const p = planDeps(resolveDepsSpec({keyFiles: ['lock'], dir: 'deps', argv: ['sh', '-c', 'mkdir deps; exit 3']}, {env: {}, home: '/nowhere'}), {cwd: app})
    await expect(deps(repo, {plan: p, mount: noMount, installStdout: 'stderr'})).rejects.toMatchObject({code: 'ERR_VELO_INSTALL_FAILED', exitCode: 3})
    expect(repo.refs.list()).toEqual([])
  })
})
