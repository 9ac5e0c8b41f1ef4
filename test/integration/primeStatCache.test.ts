/**
 * velo run --materialize restores the input, then primes the stat cache of the restored directory
 * from the tree it restored, so that the output snapshot reads only what the command changed.
 */
import {readdirSync, realpathSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {snapshot} from '../../src/api/snapshot.js'
import {Repository} from '../../src/repo/Repository.js'
import {restoreTree} from '../../src/restore/restoreTree.js'
import {primeStatCache} from '../../src/run/primeStatCache.js'
import {makeTree, scratchDir} from '../helpers/trees.js'

/** Moves every mtime below `dir` 10 s into the past, out of the racy window of the cache. */
function age(dir: string): void {
  const past = new Date(Date.now() - 10_000)
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) age(p)
    utimesSync(p, past, past)
  }
}

describe('primeStatCache', () => {
  let scratch: {path: string; cleanup: () => void}
  let repo: Repository

  beforeAll(() => {
    scratch = scratchDir('velo-prime-')
    makeTree(join(scratch.path, 'src'), {'a.txt': 'a\n', 'run.sh': {exec: '#!/bin/sh\n'}, link: {symlink: 'a.txt'}, empty: {dir: {}}, d: {dir: {'b.txt': 'b\n', e: {dir: {'c.txt': 'c\n'}}}}})
    repo = Repository.open(join(scratch.path, 'repo'), {create: true})
  })
  afterAll(() => {
    repo?.close()
    scratch?.cleanup()
  })

  it('makes the snapshot of a restored tree read nothing, and only what changed after', async () => {
    const s = await snapshot(repo, {dir: join(scratch.path, 'src'), ref: 'src'})
    const out = join(scratch.path, 'out')
    await restoreTree(repo, s.tree, out)
    age(out)
    primeStatCache(repo, s.tree, realpathSync(out))
    const again = await snapshot(repo, {dir: out, noRef: true})
    expect(again.tree).toBe(s.tree)
    expect(again.hashedFiles).toBe(0)
    writeFileSync(join(out, 'd/e/c.txt'), 'changed\n')
    writeFileSync(join(out, 'new.txt'), 'new\n')
    const changed = await snapshot(repo, {dir: out, noRef: true})
    expect(changed.hashedFiles).toBe(2)
    expect(changed.tree).not.toBe(s.tree)
  })
})
