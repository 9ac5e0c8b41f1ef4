// Big files (corpus-c): 4 x 256 MiB incompressible, then 1 MiB overwritten in place in one file.
// Each round copies v1 to a fresh tree (untimed), snapshots it cold, copies v2's changed file over
// it in place (untimed) and snapshots again; the repository growth is the 1 MiB edit's cost.
import {join} from 'node:path'
import {MiB, sizeOf} from '../sh.js'
import {lastJson} from './velo.js'

export default {
  name: 'big',
  title: 'Big files (4 x 256 MiB, then 1 MiB changed)',
  corpus: 'big',
  rows: [
    {id: 'limit.big.read', label: 'read all (1 GiB)', short: 'read all'},
    {id: 'limit.big.b3sum', label: 'b3sum --num-threads 1 (1 GiB)', short: 'b3sum 1 thread'},
    {id: 'limit.big.copy', label: 'write floor: cp -a of the 1 GiB + sync', short: 'cp + sync'},
    {id: 'velo.big.cold', label: 'velo snapshot, cold (empty repo)', vs: 'limit.big.b3sum'},
    {id: 'velo.big.cold.copy', label: '  the same, against the write floor', vs: 'limit.big.copy', derived: 'velo.big.cold'},
    {id: 'velo.big.rss', label: 'velo snapshot, cold: peak RSS', unit: 'MiB'},
    {id: 'velo.big.repo', label: 'repository after v1 (allocated)', unit: 'MiB'},
    {id: 'velo.big.edit', label: 'velo snapshot after the 1 MiB edit', vs: 'limit.big.read'},
    {id: 'velo.big.growth', label: 'repository growth for the 1 MiB edit (allocated)', unit: 'MiB', target: {max: 2, text: '<= 2 MiB'}},
    {id: 'velo.big.growth.apparent', label: 'repository growth for the 1 MiB edit (apparent)', unit: 'MiB'},
  ],
  round(b) {
    const tree = b.scratch('tree')
    b.sh(`cp -a ${b.q(join(b.big, 'v1'))} ${b.q(tree)} && cat ${b.q(tree)}/* >/dev/null`)
    const t = b.q(tree)
    try {
      b.time('limit.big.read', `find ${t} -type f -print0 | xargs -0 cat >/dev/null`)
      b.time('limit.big.b3sum', `find ${t} -type f -print0 | xargs -0 b3sum --num-threads 1 >/dev/null`)
      const copy = b.scratch('copy')
      b.time('limit.big.copy', `cp -a ${t} ${b.q(copy)} && sync`)
      b.sh(`rm -rf ${b.q(copy)}`)
      const repo = b.scratch('repo')
      const snap = `${b.velo} snapshot --repo ${b.q(repo)} ${t} --ref big --json`
      const cold = b.time('velo.big.cold', snap)
      b.value('velo.big.rss', cold.rssKiB / 1024)
      const s1 = sizeOf(repo)
      b.value('velo.big.repo', s1.disk / MiB)
      b.sh(`cp --preserve=timestamps ${b.q(join(b.big, 'v2', 'f0.bin'))} ${t}/f0.bin && cat ${t}/* >/dev/null`)
      const edit = b.time('velo.big.edit', snap)
      const r = lastJson(edit.stdout)
      b.check('edit snapshot re-read only the changed file', r.hashedFiles === 1, `hashedFiles ${r.hashedFiles}`)
      const s2 = sizeOf(repo)
      b.value('velo.big.growth', (s2.disk - s1.disk) / MiB)
      b.value('velo.big.growth.apparent', (s2.apparent - s1.apparent) / MiB)
    } finally {
      b.sh(`rm -rf ${t} ${b.q(join(b.work, `r${b.round}`, 'big', 'repo'))}`)
    }
  },
}
