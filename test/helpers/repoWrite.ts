/** Writes hand-made objects into a repository: hostile trees, snapshots and refs for tests. */
import {hash} from '../../src/objects/hash.js'
import type {Oid} from '../../src/objects/oid.js'
import {encodeSnapshot} from '../../src/objects/snapshot.js'
import {ObjectType} from '../../src/pack/block.js'
import {PackWriter} from '../../src/pack/PackWriter.js'
import type {Repository} from '../../src/repo/Repository.js'
import {mkdirp} from '../../src/util/fsx.js'

export interface RawObject {
  type: number
  bytes: Buffer
}

/** Stores the objects as they are (blobs in a data pack, the rest in a metadata pack). */
export function writeObjects(repo: Repository, objects: RawObject[]): Oid[] {
  mkdirp(repo.tmpDir)
  const data = new PackWriter({packsDir: repo.packsDir, tmpDir: repo.tmpDir, kind: 'data', level: 0})
  const meta = repo.metaWriter()
  const ids = objects.map((o) => {
    const id = hash(o.bytes)
    ;(o.type === ObjectType.blob ? data : meta).addObject(id, o.type, o.bytes)
    return id.toString('hex') as Oid
  })
  repo.commitPacks([...data.finish(), ...meta.finish()])
  return ids
}

/** Records a snapshot of `tree` and points `ref` at it. */
export function snapshotOf(repo: Repository, tree: Oid, ref: string): Oid {
  const bytes = encodeSnapshot({tree, parents: [], time: Date.now(), user: 'test', host: 'test', message: '', meta: {}})
  const [id] = writeObjects(repo, [{type: ObjectType.snapshot, bytes}])
  repo.refs.update(ref, {to: id, command: 'test'})
  return id
}
