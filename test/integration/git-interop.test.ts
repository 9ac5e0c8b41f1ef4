/**
 * git import and export against the real git CLI: commits become snapshots (with history, commit
 * ids in meta, incremental re-import), snapshots become commits that git fsck --strict accepts and
 * git checkout turns back into exactly the tree.
 */
import {mkdirSync, rmSync, writeFileSync, chmodSync, symlinkSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {snapshot} from '../../src/api/snapshot.js'
import {exportGit} from '../../src/interop/git/exportGit.js'
import {GitMap} from '../../src/interop/git/GitMap.js'
import {importGit} from '../../src/interop/git/importGit.js'
import {Repository, initRepository} from '../../src/repo/Repository.js'
import {restoreTree} from '../../src/restore/restoreTree.js'
import {describeTree, git, makeTree, run} from '../helpers/interop.js'
import {tmpDir} from '../helpers/velo.js'

function newRepo(): {repo: Repository; dir: string} {
  const dir = tmpDir('velo-git-')
  initRepository(join(dir, 'repo'))
  return {repo: Repository.open(join(dir, 'repo')), dir}
}

/** A git repository with 3 commits on main (files, exec, symlink, empty file, a submodule link), packed. */
function gitRepo(dir: string): {path: string; commits: string[]} {
  const path = join(dir, 'g')
  mkdirSync(path)
  git(path, 'init', '-q', '-b', 'main')
  makeTree(path, {'README.md': '# demo\n', 'empty.txt': '', bin: {'run.sh': {exec: '#!/bin/sh\necho run\n'}}, src: {'a.js': 'a\n', deep: {'b.js': 'b\n'}}, 'link': {symlink: 'src/a.js'}})
  git(path, 'add', '-A')
  git(path, 'commit', '-q', '-m', 'first\n\nwith a body')
  writeFileSync(join(path, 'src', 'a.js'), 'a2\n')
  git(path, 'commit', '-q', '-am', 'second')
  // A submodule entry (gitlink) without a .gitmodules: git checks it out as an empty directory.
  git(path, 'update-index', '--add', '--cacheinfo', `160000,${git(path, 'rev-parse', 'HEAD')},vendor/sub`)
  writeFileSync(join(path, 'new.txt'), 'new\n')
  git(path, 'add', 'new.txt')
  git(path, 'commit', '-q', '-m', 'third')
  git(path, 'tag', '-a', 'v1', '-m', 'release 1', 'HEAD~1')
  git(path, 'gc', '-q')
  return {path, commits: git(path, 'rev-list', 'HEAD').split('\n')}
}

/** The tree of a commit as git checks it out (git archive | tar x), without the submodule directory. */
function gitTree(repoPath: string, rev: string, out: string): string[] {
  mkdirSync(out, {recursive: true})
  const archive = join(out, '..', `${rev.replace(/\W/g, '_')}.tar`)
  git(repoPath, 'archive', '-o', archive, rev)
  run('tar', ['-xf', archive, '-C', out])
  return describeTree(out, (p) => p === 'vendor' || p.startsWith('vendor/'))
}

describe('velo import git', () => {
  it('turns a commit and its first-parent history into snapshots, with the commit id in meta', async () => {
    const {repo, dir} = newRepo()
    const g = gitRepo(dir)
    const warnings: string[] = []
    const r = await importGit(repo, {repo: g.path, history: 10, ref: 'demo', onWarning: (m) => warnings.push(m)})
    expect(r.commit).toBe(g.commits[0])
    expect(r.imported).toBe(3)
    expect(r.snapshots.map((s) => s.commit)).toEqual([...g.commits].reverse())
    expect(r.skipped).toEqual([{path: 'vendor/sub', reason: expect.stringMatching(/submodule/)}])
    expect(warnings).toEqual([expect.stringMatching(/^skipped vendor\/sub: git submodule/)])
    // The chain: each snapshot's parent is the previous commit's snapshot; the root has none.
    const ids = r.snapshots.map((s) => s.id)
    expect(repo.readSnapshot(ids[0]).parents).toEqual([])
    expect(repo.readSnapshot(ids[1]).parents).toEqual([ids[0]])
    expect(repo.readSnapshot(ids[2]).parents).toEqual([ids[1]])
    expect(repo.refs.read('demo')).toBe(ids[2])
    const first = repo.readSnapshot(ids[0])
    expect(first.meta).toMatchObject({
      'git.commit': g.commits[2],
      'git.author': 'Ada Lovelace <ada@example.com> 1700000000 +0100',
      'git.committer': 'Charles Babbage <charles@example.com> 1700000100 +0100',
    })
    expect(first.message).toBe('first\n\nwith a body')
    expect(first.time).toBe(1700000100_000)
    expect(repo.readSnapshot(ids[1]).meta['git.parents']).toBe(g.commits[2])
    // Each snapshot is exactly the commit's tree.
    for (const [i, c] of g.commits.entries()) {
      const out = join(dir, `v${i}`)
      restoreTree(repo, repo.readSnapshot(r.snapshots[2 - i].id).tree, out)
      // git checks a submodule out as an empty directory; velo skips it (vendor stays, empty).
      expect(describeTree(out, (p) => p === 'vendor'), c).toEqual(gitTree(g.path, c, join(dir, `g${i}`)))
    }
  })

  it('re-imports incrementally: only new commits and trees are read', async () => {
    const {repo, dir} = newRepo()
    const g = gitRepo(dir)
    const a = await importGit(repo, {repo: g.path, rev: 'main', history: 5, ref: 'm'})
    const again = await importGit(repo, {repo: g.path, rev: 'main', ref: 'm'})
    expect(again).toMatchObject({id: a.id, imported: 0, readCommits: 0, readTrees: 0, readBlobs: 0})
    writeFileSync(join(g.path, 'src', 'deep', 'c.js'), 'c\n')
    git(g.path, 'add', '-A')
    git(g.path, 'commit', '-q', '-m', 'fourth')
    const b = await importGit(repo, {repo: g.path, rev: 'main', ref: 'm'})
    expect(b).toMatchObject({imported: 1, readCommits: 1, readBlobs: 2}) // c.js, and the root's symlink (targets are not mapped)
    expect(b.readTrees).toBe(3) // root, src, src/deep: the others come from the mapping
    expect(repo.readSnapshot(b.id).parents).toEqual([a.id])
    expect(b.parent).toBe(a.id)
    // The mapping records both imports.
    const map = GitMap.load(repo)
    expect(map.commit(b.commit)?.snapshot).toBe(b.id)
    expect(map.commit(a.commit)).toEqual({snapshot: a.id, depth: Infinity})
  })

  it('resolves tags, ~N, ^, abbreviated ids and bare repositories', async () => {
    const {repo, dir} = newRepo()
    const g = gitRepo(dir)
    expect((await importGit(repo, {repo: g.path, rev: 'v1', ref: 't'})).commit).toBe(g.commits[1])
    expect((await importGit(repo, {repo: g.path, rev: 'main~2', ref: 't'})).commit).toBe(g.commits[2])
    expect((await importGit(repo, {repo: g.path, rev: 'HEAD^', ref: 't'})).commit).toBe(g.commits[1])
    expect((await importGit(repo, {repo: g.path, rev: g.commits[2].slice(0, 8), ref: 't'})).commit).toBe(g.commits[2])
    const bare = join(dir, 'bare.git')
    run('git', ['clone', '-q', '--bare', g.path, bare])
    const r = await importGit(repo, {repo: bare})
    expect(r.commit).toBe(g.commits[0])
    expect(r.ref).toMatch(/^git\/bare\.git-[0-9a-f]{8}\/main$/)
    await expect(importGit(repo, {repo: g.path, rev: 'nope', ref: 't'})).rejects.toMatchObject({code: 'ERR_VELO_NOT_FOUND'})
    await expect(importGit(repo, {repo: dir, ref: 't'})).rejects.toMatchObject({code: 'ERR_VELO_NOT_FOUND', message: expect.stringMatching(/not a git repository/)})
    const emptyRepo = join(dir, 'empty')
    run('git', ['init', '-q', emptyRepo])
    await expect(importGit(repo, {repo: emptyRepo, ref: 't'})).rejects.toMatchObject({code: 'ERR_VELO_NOT_FOUND'})
  })
})

describe('velo export git', () => {
  it('writes a commit git fsck --strict accepts and git checkout turns back into the snapshot', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    makeTree(src, {
      'a.txt': 'a\n',
      'empty.txt': '',
      'tool.sh': {exec: '#!/bin/sh\n'},
      'rel': {symlink: 'a.txt'},
      'dangling': {symlink: '../outside/x'},
      'with space é.txt': 'utf8\n',
      empty: {},
      nested: {deeper: {}, 'x.txt': 'x'},
      onlyempty: {inner: {}},
      vendored: {'.git': {HEAD: 'ref: refs/heads/main\n'}, 'lib.js': 'lib'},
      // git sorts a directory as if its name ended in "/": x-, x.txt, x/ (fsck --strict checks it).
      x: {y: 'y'},
      'x.txt': 'x',
      'x-': '-',
      'ü': 'non-ASCII',
    })
    const s = await snapshot(repo, {dir: src, ref: 'app/deps'})
    const gitPath = join(dir, 'out.git')
    const warnings: string[] = []
    const r = await exportGit(repo, {rev: 'app/deps', repo: gitPath, onWarning: (m) => warnings.push(m)})
    expect(r).toMatchObject({snapshot: s.id, branch: 'app/deps', parent: null, createdRepo: true, createdCommit: true})
    expect(r.emptyDirs).toEqual(['empty', 'nested/deeper', 'onlyempty/inner'])
    expect(r.skipped).toEqual([{path: 'vendored/.git', reason: expect.stringMatching(/\.git/)}])
    expect(warnings.join('\n')).toMatch(/empty directories: empty, nested\/deeper, onlyempty\/inner/)
    git(gitPath, 'fsck', '--strict', '--no-dangling')
    expect(git(gitPath, 'rev-parse', 'refs/heads/app/deps')).toBe(r.commit)
    expect(git(gitPath, 'log', '-1', '--format=%B', r.commit)).toContain(`Velo-Snapshot: ${s.id}`)
    // git checkout (a clone) gives the snapshot back, minus what git cannot hold.
    const co = join(dir, 'co')
    run('git', ['clone', '-q', '-b', 'app/deps', gitPath, co])
    const gitHolds = (p: string): boolean => p === '.git' || p.startsWith('.git/') || p.startsWith('vendored/.git')
    const want = describeTree(src, (p) => p.startsWith('vendored/.git')).filter((l) => !/^(empty|nested\/deeper|onlyempty)( |\/)/.test(l))
    expect(describeTree(co, gitHolds)).toEqual(want)
    // The same snapshot again: nothing changes.
    const again = await exportGit(repo, {rev: 'app/deps', repo: gitPath})
    expect(again).toMatchObject({commit: r.commit, createdCommit: false, createdRepo: false})
  })

  it('appends to the branch, refuses a checked-out branch, and round-trips a git commit to the same tree id', async () => {
    const {repo, dir} = newRepo()
    const g = gitRepo(dir)
    const imported = await importGit(repo, {repo: g.path, rev: 'main~1', ref: 'from-git'})
    const target = join(dir, 't.git')
    run('git', ['init', '-q', '--bare', target])
    const e1 = await exportGit(repo, {rev: 'from-git', repo: target, branch: 'rt'})
    // No submodule in main~1: the tree is git's own, byte for byte.
    expect(e1.tree).toBe(git(g.path, 'rev-parse', 'main~1^{tree}'))
    const src = join(dir, 'src')
    makeTree(src, {'x.txt': 'x'})
    await snapshot(repo, {dir: src, ref: 'other'})
    const e2 = await exportGit(repo, {rev: 'other', repo: target, branch: 'rt', message: 'next one'})
    expect(e2.parent).toBe(e1.commit)
    expect(git(target, 'log', '--format=%s', 'rt').split('\n')).toEqual(['next one', 'second'])
    // The people and times of an imported commit are kept.
    expect(git(target, 'log', '-1', '--format=%an <%ae> %at|%cn <%ce> %ct %cd', '--date=format:%z', e1.commit)).toBe(
      'Ada Lovelace <ada@example.com> 1700000000|Charles Babbage <charles@example.com> 1700000100 +0100',
    )
    run('git', ['-C', target, 'fsck', '--strict', '--no-dangling'])
    // A work tree with the branch checked out is left alone.
    const wt = join(dir, 'wt')
    run('git', ['clone', '-q', '-b', 'rt', target, wt])
    await expect(exportGit(repo, {rev: 'other', repo: wt, branch: 'rt'})).rejects.toMatchObject({code: 'ERR_VELO_USAGE', message: expect.stringMatching(/checked out/)})
    expect(imported.id).toBeTruthy()
    // A directory that is not a git repository is not taken over.
    const notGit = join(dir, 'notgit')
    mkdirSync(notGit)
    writeFileSync(join(notGit, 'f'), 'f')
    await expect(exportGit(repo, {rev: 'other', repo: notGit})).rejects.toMatchObject({code: 'ERR_VELO_USAGE'})
    await expect(exportGit(repo, {rev: 'other', repo: target, branch: 'bad..name'})).rejects.toMatchObject({code: 'ERR_VELO_BAD_REF_NAME'})
  })

  it('exports a snapshot imported from git, back to identical files (exec bits, symlinks, empty files)', async () => {
    const {repo, dir} = newRepo()
    const src = join(dir, 'src')
    mkdirSync(src)
    writeFileSync(join(src, 'plain'), 'p')
    writeFileSync(join(src, 'exec'), 'e')
    chmodSync(join(src, 'exec'), 0o755)
    writeFileSync(join(src, 'empty'), '')
    symlinkSync('plain', join(src, 'sym'))
    await snapshot(repo, {dir: src, ref: 's'})
    const a = join(dir, 'a')
    const ea = await exportGit(repo, {rev: 's', repo: a})
    const b = await importGit(repo, {repo: a, rev: ea.branch, ref: 'back'})
    expect(repo.readSnapshot(b.id).tree).toBe(repo.readSnapshot(repo.resolveSnapshot('s')).tree)
    expect(readFileSync(join(a, '.git', 'HEAD'), 'utf8').trim()).toBe(`ref: refs/heads/${ea.branch}`)
    rmSync(a, {recursive: true})
  })
})
