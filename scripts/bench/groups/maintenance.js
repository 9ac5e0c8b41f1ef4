// Maintenance on a repository holding one snapshot of the npm tree (made once, untimed): velo fsck
// against reading the repository's files (cat of packs and indexes, page cache warm for both),
// and gc with nothing to delete (default grace period; --prune now, which walks the whole graph).
// Targets (issue 8): fsck <= 2x the read; gc with nothing to delete <= 1 s.
import {lastJson} from './velo.js'

let repo

export default {
  name: 'maintenance',
  title: 'maintenance (npm-tree repository)',
  corpus: 'npm',
  rows: [
    {id: 'maint.cat', label: 'cat of the repository files (packs, indexes; warm)', short: 'cat'},
    {id: 'maint.fsck', label: 'velo fsck (every pack, object, ref)', vs: 'maint.cat', target: {max: 2, text: '<= 2x cat'}},
    {id: 'maint.fsck.inner', label: '  of which fsck itself (durationMs, no process start)', unit: 's'},
    {id: 'maint.gc', label: 'velo gc, nothing to delete (default grace)', target: {max: 1, text: '<= 1 s'}},
    {id: 'maint.gc.now', label: 'velo gc --prune now, nothing to delete (full mark)', target: {max: 1, text: '<= 1 s'}},
  ],
  setup(b) {
    repo = b.scratch('repo')
    b.sh(`${b.velo} snapshot --repo ${b.q(repo)} ${b.q(b.tree)} --ref deps --json`)
  },
  round(b) {
    const cat = `cat ${b.q(repo)}/packs/* > /dev/null`
    b.sh(cat) // warm
    b.time('maint.cat', cat)
    const f = lastJson(b.time('maint.fsck', `${b.velo} fsck --repo ${b.q(repo)} --json`).stdout)
    b.check('fsck finds the repository sound', f.ok === true && f.complete === true, JSON.stringify(f.problems?.slice(0, 3)))
    b.value('maint.fsck.inner', f.durationMs / 1000)
    const g = lastJson(b.time('maint.gc', `${b.velo} gc --repo ${b.q(repo)} --json`).stdout)
    b.check('gc deleted nothing', g.deletedObjects === 0, `${g.deletedObjects} objects deleted`)
    const n = lastJson(b.time('maint.gc.now', `${b.velo} gc --prune now --repo ${b.q(repo)} --json`).stdout)
    b.check('gc --prune now deleted nothing', n.deletedObjects === 0, `${n.deletedObjects} objects deleted`)
  },
}
