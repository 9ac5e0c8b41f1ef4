// Diff of two snapshots: the npm tree (a) and a deterministic variant of it (a2) that spreads
// changes over the whole tree: every 17th file (in sorted path order) modified, every 41st deleted,
// 200 files added in a new directory. Both tools store a and a2 once per run (untimed), then each
// round times only the diff, output piped to `wc -l`.
import {readdirSync, readFileSync, lstatSync, mkdirSync, unlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

export default {
  name: 'diff',
  title: 'diff of two snapshots (npm tree vs a variant)',
  corpus: 'npm',
  rows: [
    {id: 'velo.diff', label: 'velo diff a a2 | wc -l', vs: 'git.diff'},
    {id: 'git.diff', label: 'git diff --name-status --no-renames a a2 | wc -l', short: 'git diff'},
    {id: 'diff.changes', label: 'paths changed between a and a2', unit: 'paths'},
  ],
  setup(b) {
    const t2 = b.scratch('tree-a2')
    b.sh(`cp -al ${b.q(b.tree)} ${b.q(t2)}`)
    const files = []
    const walk = (rel) => {
      for (const name of readdirSync(join(t2, rel)).sort()) {
        const r = rel ? `${rel}/${name}` : name
        const st = lstatSync(join(t2, r))
        if (st.isDirectory()) walk(r)
        else if (st.isFile()) files.push(r)
      }
    }
    walk('')
    let modified = 0
    let deleted = 0
    files.forEach((f, i) => {
      const p = join(t2, f)
      if (i % 17 === 0) {
        const data = readFileSync(p)
        unlinkSync(p) // break the hard link before writing: the original tree must not change
        writeFileSync(p, Buffer.concat([data, Buffer.from(`\n// velo-bench ${i}\n`)]))
        modified++
      } else if (i % 41 === 0) {
        unlinkSync(p)
        deleted++
      }
    })
    const added = join(t2, 'node_modules', '.velo-bench-added')
    mkdirSync(added)
    for (let i = 0; i < 200; i++) writeFileSync(join(added, `f${i}.js`), `module.exports = ${i}\n`.repeat(1 + (i % 50)))
    b.note(`diff variant: ${modified} modified, ${deleted} deleted, 200 added`)
    this.expected = modified + deleted + 200

    this.repo = b.scratch('repo')
    b.sh(`${b.velo} snapshot --repo ${b.q(this.repo)} ${b.q(b.tree)} --ref a -q`)
    b.sh(`${b.velo} snapshot --repo ${b.q(this.repo)} ${b.q(t2)} --ref a2 -q`)
    this.git = b.scratch('git')
    const g = (tree) => `git --git-dir=${b.q(this.git)} --work-tree=${b.q(tree)} -c gc.auto=0`
    b.sh(`git --git-dir=${b.q(this.git)} init -q && ${g(b.tree)} add -A -f && ${g(b.tree)} commit -q -m a`)
    b.sh(`${g(t2)} add -A -f && ${g(t2)} commit -q -m a2`)
  },
  round(b) {
    const v = b.time('velo.diff', `${b.velo} diff --repo ${b.q(this.repo)} a a2 | wc -l`)
    const g = b.time('git.diff', `git --git-dir=${b.q(this.git)} diff --name-status --no-renames HEAD~1 HEAD | wc -l`)
    const nv = Number(v.stdout.trim())
    const ng = Number(g.stdout.trim())
    b.value('diff.changes', nv)
    b.check('velo diff lists every change', nv === this.expected, `velo ${nv}, expected ${this.expected}`)
    b.check('git diff lists every change', ng === this.expected, `git ${ng}, expected ${this.expected}`)
  },
}
