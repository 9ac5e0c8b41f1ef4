// GNU tar as a peer: archive the tree to a file, extract it into a new directory.
export default {
  name: 'tar',
  title: 'tar (npm tree)',
  corpus: 'npm',
  rows: [
    {id: 'tar.cf', label: 'tar cf of the tree to a file', vs: 'limit.read'},
    {id: 'tar.xf', label: 'tar xf into a new dir', short: 'tar xf'},
  ],
  round(b) {
    const archive = b.scratch('a.tar')
    const dest = b.scratch('xf')
    b.time('tar.cf', `tar cf ${b.q(archive)} -C ${b.q(b.tree)} .`)
    b.time('tar.xf', `mkdir ${b.q(dest)} && tar xf ${b.q(archive)} -C ${b.q(dest)}`)
    const got = Number(b.sh(`find ${b.q(dest)} -type f | wc -l`).trim())
    b.check('tar xf wrote every file', got === b.corpus.npm.files, `${got} files, expected ${b.corpus.npm.files}`)
  },
}
