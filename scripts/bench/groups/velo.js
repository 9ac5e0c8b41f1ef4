// velo on the npm tree: cold snapshot into an empty repository, unchanged re-snapshot, restore.
import {join} from 'node:path'
import {MiB, sizeOf} from '../sh.js'

export default {
  name: 'velo',
  title: 'velo (npm tree)',
  corpus: 'npm',
  rows: [
    {id: 'velo.snapshot.cold', label: 'velo snapshot, cold (empty repo)', vs: 'limit.b3sum', target: {max: 1.2, text: '<= 1.2x b3sum'}},
    {id: 'velo.snapshot.rss', label: 'velo snapshot, cold: peak RSS', unit: 'MiB', target: {max: 150, text: '<= 150 MiB'}},
    {id: 'velo.repo.disk', label: 'repository after the first snapshot (allocated)', unit: 'MiB', target: {max: 95, text: '<= 95 MiB'}},
    {id: 'velo.repo.apparent', label: 'repository after the first snapshot (apparent)', unit: 'MiB'},
    {id: 'velo.repo.packs', label: '  of which packs/ (apparent)', unit: 'MiB'},
    {id: 'velo.repo.cache', label: '  of which cache/ (stat cache, apparent)', unit: 'MiB'},
    {id: 'velo.snapshot.nochange', label: 'velo snapshot, unchanged tree', vs: 'limit.stat', target: {max: 1.3, text: '<= 1.3x stat walk'}},
    {id: 'velo.nochange.hashed', label: 'unchanged re-snapshot: files read (hashedFiles)', unit: 'files', target: {max: 0, text: '= 0'}},
    {id: 'velo.nochange.growth', label: 'unchanged re-snapshot: repository growth', unit: 'MiB', target: {max: 1, text: '< 1 MiB'}},
    {id: 'velo.restore', label: 'velo restore into a new dir', vs: 'tar.xf', target: {max: 1.0, text: '<= tar xf'}},
  ],
  round(b) {
    const repo = b.scratch('repo')
    const t = b.q(b.tree)
    const snap = `${b.velo} snapshot --repo ${b.q(repo)} ${t} --ref a --json`
    const cold = b.time('velo.snapshot.cold', snap)
    const r1 = lastJson(cold.stdout)
    b.check('cold snapshot read every file', r1.hashedFiles === r1.files, `hashedFiles ${r1.hashedFiles} of ${r1.files}`)
    b.value('velo.snapshot.rss', cold.rssKiB / 1024)
    const s1 = sizeOf(repo)
    b.value('velo.repo.disk', s1.disk / MiB)
    b.value('velo.repo.apparent', s1.apparent / MiB)
    b.value('velo.repo.packs', sizeOf(join(repo, 'packs')).apparent / MiB)
    b.value('velo.repo.cache', sizeOf(join(repo, 'cache')).apparent / MiB)

    // The stat cache treats entries whose mtime is not older than the cache (minus 1 s) as racy.
    // The tree keeps the corpus's old mtimes (and bench.js waits until its newest is 2 s old), so
    // nothing should be re-read; hashedFiles says.
    const again = b.time('velo.snapshot.nochange', snap)
    const r2 = lastJson(again.stdout)
    b.value('velo.nochange.hashed', r2.hashedFiles)
    b.check('re-snapshot gives the same tree', r2.tree === r1.tree, `${r2.tree} vs ${r1.tree}`)
    b.value('velo.nochange.growth', (sizeOf(repo).disk - s1.disk) / MiB)

    const dest = b.scratch('restore')
    b.time('velo.restore', `${b.velo} restore --repo ${b.q(repo)} a ${b.q(dest)}`)
    const got = Number(b.sh(`find ${b.q(dest)} -type f | wc -l`).trim())
    b.check('restore wrote every file', got === b.corpus.npm.files, `${got} files, expected ${b.corpus.npm.files}`)
  },
}

export function lastJson(stdout) {
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}
