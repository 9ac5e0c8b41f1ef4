// Raw limits of the machine on the npm tree: the references of the velo ratios.
export default {
  name: 'limits',
  title: 'Raw limits (npm tree)',
  corpus: 'npm',
  rows: [
    {id: 'limit.stat', label: "stat walk: find T -printf '%s\\n'", short: 'stat walk'},
    {id: 'limit.read', label: 'read all: find T -type f -print0 | xargs -0 cat', short: 'read all'},
    {id: 'limit.b3sum', label: 'b3sum --num-threads 1 of every file', short: 'b3sum 1 thread'},
  ],
  round(b) {
    const t = b.q(b.tree)
    b.time('limit.stat', `find ${t} -printf '%s\\n' >/dev/null`)
    b.time('limit.read', `find ${t} -type f -print0 | xargs -0 cat >/dev/null`)
    b.time('limit.b3sum', `find ${t} -type f -print0 | xargs -0 b3sum --num-threads 1 >/dev/null`)
  },
}
