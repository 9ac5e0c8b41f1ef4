// git as a peer, as ../shared/bench/tools.sh runs it: a separate git dir (the tree stays clean),
// `add -A -f` (npm packages ship .gitignore files), gc.auto=0 (no background auto-gc under the next
// measurement). git 2.39 does not fsync loose objects, the index or refs by default.
import {MiB, sizeOf} from '../sh.js'

export default {
  name: 'git',
  title: 'git (npm tree)',
  corpus: 'npm',
  rows: [
    {id: 'git.cold', label: 'git init + add -A -f + commit', vs: 'limit.b3sum'},
    {id: 'git.repo.disk', label: 'git repository after the first commit (allocated)', unit: 'MiB'},
    {id: 'git.nochange', label: 'git add -A -f + commit --allow-empty, unchanged', vs: 'limit.stat'},
  ],
  round(b) {
    const g = b.scratch('git')
    const git = `git --git-dir=${b.q(g)} --work-tree=${b.q(b.tree)} -c gc.auto=0`
    b.time('git.cold', `git --git-dir=${b.q(g)} init -q && ${git} add -A -f && ${git} commit -q -m a`)
    b.value('git.repo.disk', sizeOf(g).disk / MiB)
    b.time('git.nochange', `${git} add -A -f && ${git} commit -q --allow-empty -m a2`)
  },
}
