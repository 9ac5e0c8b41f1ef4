// velo checkout (issue 4) on the npm tree: mount latency (from starting `velo checkout` until `ls`
// of the deepest file succeeds), reading every file through the mount (first and second pass,
// against the raw read of the tree), and `velo snapshot MNT` after changing 10 files.
//
// Latency is measured the way users meet it: the first checkout of a repository starts its own
// server (velo.mount.latency.cold); every later one finds the spare server the previous mount left
// waiting (velo.mount.latency, src/mount/spareClient.ts). `velo snapshot MNT` is answered by the
// mount's own server (src/mount/mountControl.ts); .local is the same snapshot made by the CLI
// process itself (VELO_MOUNT_CONTROL=0), for reference.
const LATENCY_RUNS = 3

export default {
  name: 'mount',
  title: 'velo checkout: FUSE mount (npm tree)',
  corpus: 'npm',
  rows: [
    {id: 'velo.mount.latency', label: 'velo checkout until ls of the deepest file', target: {max: 0.15, text: '<= 0.15 s'}},
    {id: 'velo.mount.latency.cold', label: '  the same, first checkout of the repository (no spare server)'},
    {id: 'velo.mount.read1', label: 'read every file through the mount, first pass', vs: 'limit.read', target: {max: 5, text: '<= 5x read all'}},
    {id: 'velo.mount.read2', label: 'read every file through the mount, second pass', vs: 'limit.read', target: {max: 1.5, text: '<= 1.5x read all'}},
    {id: 'velo.mount.snapshot', label: 'velo snapshot MNT after changing 10 files', target: {max: 0.3, text: '<= 0.3 s'}},
    {id: 'velo.mount.snapshot.local', label: '  the same, made by the CLI process (VELO_MOUNT_CONTROL=0)'},
  ],
  setup(b) {
    const repo = b.scratch('repo')
    b.sh(`${b.velo} snapshot --repo ${b.q(repo)} ${b.q(b.tree)} --ref m -q`)
    const deepest = b.sh(`cd ${b.q(b.tree)} && find . -type f -printf '%d %p\\n' | sort -n | tail -1`).trim().split(' ').slice(1).join(' ')
    // The first 10 files under 1 MiB in name order (as scripts/bench-mount.js chose them).
    const changed = b.sh(`cd ${b.q(b.tree)} && find . -type f -size -1024k | LC_ALL=C sort | head -10`).trim().split('\n')
    this.state = {repo, deepest, changed, uid: process.getuid?.() ?? 0}
  },
  round(b) {
    const {repo, deepest, changed, uid} = this.state
    const velo = (args, env = '') => `${env}${b.velo} ${args} --repo ${b.q(repo)}`
    const sock = `${repo}/cache/mount-spare-${uid}.sock`
    const waitSpare = () => b.sh(`for i in $(seq 600); do [ -S ${b.q(sock)} ] && exit 0; sleep 0.1; done; echo no spare server >&2; exit 1`)
    const unmount = (m) => b.sh(`${velo(`unmount ${b.q(m)} --discard`)} >/dev/null`)

    // Cold: no spare server may be waiting.
    b.sh(`pid=$(cat ${b.q(`${repo}/cache/mount-spare-${uid}.pid`)} 2>/dev/null) && kill $pid 2>/dev/null; for i in $(seq 50); do [ -S ${b.q(sock)} ] || exit 0; sleep 0.1; done; exit 0`)
    let m = b.scratch('cold')
    b.sh(`mkdir -p ${b.q(m)}`)
    b.time('velo.mount.latency.cold', `${velo(`checkout m ${b.q(m)}`, 'VELO_MOUNT_SPARE=0 ')} >/dev/null && ls -l ${b.q(`${m}/${deepest}`)} >/dev/null`)
    unmount(m)
    // Warm: a first mount leaves a spare server behind.
    m = b.scratch('warmup')
    b.sh(`mkdir -p ${b.q(m)} && ${velo(`checkout m ${b.q(m)}`)} >/dev/null`)
    unmount(m)
    for (let i = 0; i < LATENCY_RUNS; i++) {
      waitSpare()
      m = b.scratch(`latency${i}`)
      b.sh(`mkdir -p ${b.q(m)}`)
      b.time('velo.mount.latency', `${velo(`checkout m ${b.q(m)}`)} >/dev/null && ls -l ${b.q(`${m}/${deepest}`)} >/dev/null`)
      unmount(m)
    }

    waitSpare()
    m = b.scratch('read')
    b.sh(`mkdir -p ${b.q(m)} && ${velo(`checkout m ${b.q(m)}`)} >/dev/null`)
    try {
      const readAll = `find ${b.q(m)} -type f -print0 | xargs -0 cat >/dev/null`
      b.time('velo.mount.read1', readAll)
      b.time('velo.mount.read2', readAll)
      for (const f of changed) b.sh(`printf '\\n// changed by the mount benchmark\\n' >> ${b.q(`${m}/${f}`)}`)
      const r = b.time('velo.mount.snapshot', `${velo(`snapshot ${b.q(m)} --ref changed --json`)}`)
      const s = JSON.parse(r.stdout.trim().split('\n').pop())
      b.check('snapshot MNT read only the changed files', s.hashedFiles === changed.length, `hashedFiles ${s.hashedFiles}, expected ${changed.length}`)
      const l = b.time('velo.mount.snapshot.local', `${velo(`snapshot ${b.q(m)} --ref changed-local --json`, 'VELO_MOUNT_CONTROL=0 ')}`)
      b.check('the server and the CLI give the same tree', JSON.parse(l.stdout.trim().split('\n').pop()).tree === s.tree, 'trees differ')
    } finally {
      unmount(m)
    }
  },
}
