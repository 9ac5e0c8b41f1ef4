// velo's tar interop (issue 7) on the npm tree: `velo export tar` of a snapshot of the tree against
// GNU `tar cf` of the tree (tar group, same round), and `velo import tar` of that archive into an
// empty repository against a cold `velo snapshot` of the tree (velo group, same round). The
// snapshot the exports read is made once, untimed, in setup.
import {lastJson} from './velo.js'

export default {
  name: 'interop',
  title: 'tar interop (npm tree)',
  corpus: 'npm',
  rows: [
    {id: 'interop.export', label: 'velo export tar of the snapshot to a file', vs: 'tar.cf', target: {max: 2, text: '<= 2x tar cf'}},
    {id: 'interop.export.rss', label: 'velo export tar: peak RSS', unit: 'MiB'},
    {id: 'interop.import', label: 'velo import tar of that archive (empty repo)', vs: 'velo.snapshot.cold', target: {max: 1.2, text: '<= 1.2x cold snapshot'}},
    {id: 'interop.import.rss', label: 'velo import tar: peak RSS', unit: 'MiB'},
  ],
  setup(b) {
    this.repo = b.scratch('snapshot-repo')
    const r = lastJson(b.sh(`${b.velo} snapshot --repo ${b.q(this.repo)} ${b.q(b.tree)} --ref a --json`))
    this.tree = r.tree
  },
  round(b) {
    const archive = b.scratch('a.tar')
    const ex = b.time('interop.export', `${b.velo} export tar --repo ${b.q(this.repo)} a -o ${b.q(archive)} --json`)
    b.value('interop.export.rss', ex.rssKiB / 1024)
    const e = lastJson(ex.stdout)
    b.check('export wrote every file', e.files === b.corpus.npm.files, `${e.files} files, expected ${b.corpus.npm.files}`)
    const repo = b.scratch('import-repo')
    const im = b.time('interop.import', `${b.velo} import tar --repo ${b.q(repo)} ${b.q(archive)} --ref a --json`)
    b.value('interop.import.rss', im.rssKiB / 1024)
    const i = lastJson(im.stdout)
    b.check('import gives the snapshot\'s tree', i.tree === this.tree, `${i.tree} vs ${this.tree}`)
  },
}
