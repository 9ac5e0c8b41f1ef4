// velo deps (virtual install) with the corpus-a lockfile, against the package manager itself and tar,
// measured in the same round (issue 10 targets: a hit mounted <= 0.2 s; restored <= tar xf):
//   npm ci, warm npm cache          the install velo deps replaces (reference)
//   velo deps npm, miss             npm ci + a snapshot of node_modules under deps/<key>
//   velo deps npm, hit mounted      from the start of velo deps until node_modules answers
//   velo deps npm --materialize     a hit restored as real files
//   tar xf of the same node_modules (reference for the restore)
// Each round uses a fresh project directory (package.json + package-lock.json of corpus-a) and a
// fresh repository. The npm cache is warmed once (setup, untimed).
import {join} from 'node:path'
import {lastJson} from './velo.js'

const NPM = 'npm ci --no-audit --no-fund --loglevel=error'

export default {
  name: 'deps',
  title: 'velo deps (corpus-a lockfile)',
  corpus: 'npm',
  rows: [
    {id: 'deps.npmci', label: 'npm ci, warm npm cache', short: 'npm ci'},
    {id: 'deps.miss', label: 'velo deps npm, miss (npm ci + snapshot)', vs: 'deps.npmci'},
    {id: 'deps.hit.mount', label: 'velo deps npm, hit mounted (until node_modules answers)', target: {max: 0.2, text: '<= 0.2 s'}},
    {id: 'deps.hit.mount.vs', label: 'velo deps npm, hit mounted', derived: 'deps.hit.mount', vs: 'deps.npmci'},
    {id: 'deps.tar.xf', label: 'tar xf of the same node_modules', short: 'tar xf'},
    {id: 'deps.hit.restore', label: 'velo deps npm --materialize, hit restored', vs: 'deps.tar.xf', target: {max: 1.0, text: '<= tar xf'}},
    {id: 'deps.hit.restore.vs', label: 'velo deps npm --materialize, hit restored', derived: 'deps.hit.restore', vs: 'deps.npmci'},
  ],
  setup(b) {
    // Warm the npm cache with the corpus's packages (they are usually there already).
    const warm = b.scratch('warm')
    b.sh(`mkdir -p ${b.q(warm)} && cp ${b.q(join(b.tree, 'package.json'))} ${b.q(join(b.tree, 'package-lock.json'))} ${b.q(warm)} && cd ${b.q(warm)} && ${NPM} && rm -rf ${b.q(warm)}`)
  },
  round(b) {
    const app = b.scratch('app')
    const nm = join(app, 'node_modules')
    const repo = b.scratch('repo')
    const v = `cd ${b.q(app)} && VELO_REPO=${b.q(repo)} ${b.velo}`
    b.sh(`mkdir -p ${b.q(app)} && cp ${b.q(join(b.tree, 'package.json'))} ${b.q(join(b.tree, 'package-lock.json'))} ${b.q(app)}`)

    b.time('deps.npmci', `cd ${b.q(app)} && ${NPM}`)
    const files = Number(b.sh(`find ${b.q(nm)} -type f | wc -l`).trim())
    b.sh(`rm -rf ${b.q(nm)}`)

    const miss = lastJson(b.time('deps.miss', `${v} deps npm --json -- ${NPM}`).stdout)
    b.check('velo deps: the first run is a miss', miss.hit === false && miss.source === 'installed', JSON.stringify({hit: miss.hit, source: miss.source}))
    const archive = b.scratch('nm.tar')
    b.sh(`tar cf ${b.q(archive)} -C ${b.q(app)} node_modules && rm -rf ${b.q(nm)}`)

    const hit = lastJson(b.time('deps.hit.mount', `${v} deps npm --json -- ${NPM} && test -e ${b.q(join(nm, '.package-lock.json'))}`).stdout)
    b.check('velo deps: a hit mounts', hit.hit === true && hit.provided === 'mounted', JSON.stringify({hit: hit.hit, provided: hit.provided}))
    const mounted = Number(b.sh(`find ${b.q(nm)} -type f | wc -l`).trim())
    b.check('the mounted node_modules has every file npm ci wrote', mounted === files, `${mounted} files, expected ${files}`)
    b.sh(`VELO_REPO=${b.q(repo)} ${b.velo} unmount ${b.q(nm)} --discard && rmdir ${b.q(nm)}`)

    const xf = b.scratch('xf')
    b.time('deps.tar.xf', `mkdir ${b.q(xf)} && tar xf ${b.q(archive)} -C ${b.q(xf)}`)
    const restored = lastJson(b.time('deps.hit.restore', `${v} deps npm --materialize --json -- ${NPM}`).stdout)
    b.check('velo deps --materialize: a hit restores', restored.hit === true && restored.provided === 'restored', JSON.stringify({hit: restored.hit, provided: restored.provided}))
    const diff = b.sh(`diff -r ${b.q(join(xf, 'node_modules'))} ${b.q(nm)} >/dev/null && echo same || echo differ`).trim()
    b.check('the restored node_modules is byte-identical to the installed one', diff === 'same', diff)
    b.sh(`rm -rf ${b.q(xf)} ${b.q(archive)} ${b.q(app)} ${b.q(repo)}`)
  },
}
