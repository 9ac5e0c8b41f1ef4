/**
 * Checks that a repository is whole: every ref names a snapshot whose history, trees and file
 * contents can all be read and verified (the property a crash must never break).
 */
import {createHasher} from '../../src/objects/hash.js'
import type {Oid} from '../../src/objects/oid.js'
import {ObjectType} from '../../src/pack/block.js'
import type {Repository} from '../../src/repo/Repository.js'

export interface RepoCheck {
  refs: number
  snapshots: number
  trees: number
  files: number
  bytes: number
}

export function checkRepository(repo: Repository): RepoCheck {
  const res: RepoCheck = {refs: 0, snapshots: 0, trees: 0, files: 0, bytes: 0}
  const seenSnaps = new Set<string>()
  const seenTrees = new Set<string>()
  const seenFiles = new Set<string>()
  const walkTree = (oid: Oid): void => {
    if (seenTrees.has(oid)) return
    seenTrees.add(oid)
    res.trees++
    for (const e of repo.readTree(oid)) {
      if (e.kind === 'dir') walkTree(e.id)
      else if (e.kind !== 'symlink' && !seenFiles.has(e.id)) {
        seenFiles.add(e.id)
        const h = createHasher()
        let n = 0
        for (const c of repo.packs.chunksOf(e.id, e.size)) {
          const data = repo.packs.read(c.id, ObjectType.blob).data
          h.update(data)
          n += data.length
        }
        if (n !== e.size) throw new Error(`file ${e.name} (${e.id}): ${n} bytes stored, tree says ${e.size}`)
        if (h.digest().toString('hex') !== e.id) throw new Error(`file ${e.name} (${e.id}): content does not hash to its id`)
        res.files++
        res.bytes += n
      }
    }
  }
  for (const r of repo.refs.list()) {
    res.refs++
    let cur: Oid | undefined = r.oid
    while (cur && !seenSnaps.has(cur)) {
      seenSnaps.add(cur)
      const s = repo.readSnapshot(cur)
      res.snapshots++
      walkTree(s.tree)
      for (const p of s.parents.slice(1)) if (!seenSnaps.has(p)) walkTree(repo.readSnapshot(p).tree)
      cur = s.parents[0]
    }
  }
  return res
}
