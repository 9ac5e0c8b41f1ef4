/**
 * `velo fsck --repair [--from REMOTE]`, under the exclusive repository lock:
 *  1. every damaged pack is salvaged: a sound pack whose index is damaged or lost gets its index
 *     rebuilt; otherwise the objects that still verify go into a new pack. The damaged files are
 *     then moved to `<repo>/quarantine/<time>/`, never deleted (a repair must not lose data);
 *  2. with --from, every object that refs or reflog entries need and the repository lacks is
 *     fetched from the remote (verified), level by level until the trees are complete;
 *  3. fsck runs again and its result is returned with what was done.
 */
import {renameSync} from 'node:fs'
import {join} from 'node:path'
import type {Oid} from '../objects/oid.js'
import {PackWriter} from '../pack/PackWriter.js'
import {encodePackIndex, PackIndex} from '../pack/packIndex.js'
import {withRepoLock} from '../repo/RepoLock.js'
import {Repository} from '../repo/Repository.js'
import {fsError} from '../util/errors.js'
import {atomicWrite, fsyncDir, mkdirp} from '../util/fsx.js'
import {failpoint} from './failpoint.js'
import {fsck, type FsckResult} from './fsck.js'
import {ObjectGraph, type Root} from './ObjectGraph.js'
import {listPackFiles} from './packFiles.js'
import {openRepairSource} from './repairSource.js'
import {listRefsSafe, listReflogs, reflogRoots} from './roots.js'
import {salvagePack} from './salvagePack.js'

export interface RepairOptions {
  from?: string
  onWarning?: (msg: string) => void
  waitMs?: number
}

export interface RepairResult {
  ok: boolean
  before: FsckResult
  after: FsckResult
  rebuiltIndexes: string[]
  salvaged: {pack: string; objects: number; lost: number; newPacks: string[]}[]
  quarantine?: string
  quarantined: string[]
  fetched: {objects: number; bytes: number; from?: string}
  /** Needed objects that could not be found anywhere. */
  unrecoverable: Oid[]
}

export async function repairRepository(root: string, o: RepairOptions = {}): Promise<RepairResult> {
  return withRepoLock(root, 'exclusive', 'fsck --repair', () => repairLocked(root, o), {onWarning: o.onWarning, waitMs: o.waitMs})
}

async function repairLocked(root: string, o: RepairOptions): Promise<RepairResult> {
  let repo = Repository.open(root)
  const before = await fsck(repo)
  const res: RepairResult = {ok: before.ok, before, after: before, rebuiltIndexes: [], salvaged: [], quarantined: [], fetched: {objects: 0, bytes: 0}, unrecoverable: []}
  if (before.ok && before.warnings.length === 0) return res

  // 1. Local salvage.
  const bad = new Set<string>()
  for (const p of before.problems) if (p.pack && p.kind !== 'object-missing') bad.add(p.pack)
  const files = listPackFiles(repo.packsDir)
  for (const f of files) if (f.hasPack && !f.hasIdx) bad.add(f.name) // lost or never written index
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const qdir = join(repo.root, 'quarantine', stamp)
  const quarantine = (name: string, exts: string[]): void => {
    mkdirp(qdir)
    for (const ext of exts) {
      try {
        renameSync(join(repo.packsDir, `${name}.${ext}`), join(qdir, `${name}.${ext}`))
        res.quarantined.push(`${name}.${ext}`)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, qdir, 'moving a damaged pack to')
      }
    }
    res.quarantine = qdir
  }
  for (const f of files.filter((x) => bad.has(x.name))) {
    const index = repo.packs.packs.find((p) => p.name === f.name)?.index
    if (!f.hasPack) {
      quarantine(f.name, ['idx'])
      continue
    }
    const s = salvagePack(f.packPath, f.name, index, repo.packs)
    if (!index && s.intact && s.trailer) {
      // The pack is sound: write its index again, under the pack's own name.
      const idx = encodePackIndex(s.kind, s.entries, s.trailer)
      new PackIndex(idx) // self-check before it replaces anything
      if (f.hasIdx) quarantine(f.name, ['idx'])
      atomicWrite(join(repo.packsDir, `${f.name}.idx`), idx, {mode: 0o444})
      res.rebuiltIndexes.push(f.name)
      continue
    }
    const w = new PackWriter({packsDir: repo.packsDir, tmpDir: repo.tmpDir, kind: s.kind, level: s.kind === 'meta' ? 3 : repo.compressionLevel})
    mkdirp(repo.tmpDir)
    for (const obj of s.objects) {
      if (obj.data.length > 128 << 10) {
        w.flushBlock()
        w.addObject(obj.id, obj.type, obj.data)
        w.flushBlock()
      } else w.addObject(obj.id, obj.type, obj.data)
    }
    const written = w.finish()
    fsyncDir(repo.packsDir)
    failpoint('repair:salvaged')
    // Written again byte for byte (only the index was at fault): the new files are the pack.
    if (!written.some((p) => p.name === f.name)) quarantine(f.name, ['idx', 'pack'])
    res.salvaged.push({pack: f.name, objects: s.objects.length, lost: s.lost.length, newPacks: written.map((p) => p.name)})
  }
  if (res.quarantined.length > 0 || res.rebuiltIndexes.length > 0) {
    fsyncDir(repo.packsDir)
    repo.close()
    repo = Repository.open(root) // a fresh view of the packs
  }

  // 2. Fetch what is still missing.
  if (o.from) {
    const src = await openRepairSource(repo, o.from)
    res.fetched.from = src.location
    try {
      for (let round = 0; round < 1000; round++) {
        const need = neededMissing(repo)
        const wanted = need.filter((id) => src.has(Buffer.from(id, 'hex')))
        if (wanted.length === 0) break
        const r = await src.fetch(wanted.map((id) => Buffer.from(id, 'hex')))
        res.fetched.objects += wanted.length
        res.fetched.bytes += r.bytes
        repo.commitPacks(r.packs)
        repo.packs.refresh()
      }
    } finally {
      src.close()
    }
  }
  res.unrecoverable = neededMissing(repo)
  res.after = await fsck(repo)
  res.ok = res.after.ok
  repo.close()
  return res
}

/** Objects that refs and reflog entries lead to and that are missing or unreadable. */
function neededMissing(repo: Repository): Oid[] {
  repo.packs.refresh()
  const graph = new ObjectGraph(repo.packs)
  const roots: Root[] = listRefsSafe(repo).refs.map((r) => ({kind: 'ref', name: r.name, id: r.oid}))
  roots.push(...reflogRoots(listReflogs(repo)))
  const out = new Set<Oid>()
  graph.walk(roots, {
    onMissing: (id) => void out.add(id),
  })
  return [...out]
}
