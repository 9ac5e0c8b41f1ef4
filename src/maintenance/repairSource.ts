/**
 * Where `fsck --repair --from REMOTE` gets objects: a configured remote's name, or a remote URL
 * (a directory holding a velo repository or remote, file://, s3://). Uses the remote layer
 * (src/remote): the remote's pack indexes say who has what; objects arrive verified, in packs.
 */
import {rmSync} from 'node:fs'
import type {WrittenPack} from '../pack/PackWriter.js'
import type {Repository} from '../repo/Repository.js'
import {hash} from '../objects/hash.js'
import {VeloError} from '../util/errors.js'

export interface RepairSource {
  location: string
  /** Ids the source has. */
  has(id: Buffer): boolean
  /** Brings objects into the repository's packs directory (verified); returns the packs written. */
  fetch(ids: Buffer[]): Promise<{packs: WrittenPack[]; bytes: number}>
  close(): void
}

export async function openRepairSource(repo: Repository, from: string): Promise<RepairSource> {
  const [{getRemote, readRemotes}, {openTransport}, {RemoteRepo}, {RemoteIndex}, {fetchObjects}, {remoteCacheDir}] = await Promise.all([
    import('../remote/RemoteConfig.js'),
    import('../remote/openTransport.js'),
    import('../remote/RemoteRepo.js'),
    import('../remote/RemoteIndex.js'),
    import('../remote/fetchObjects.js'),
    import('../remote/RemoteConfig.js'),
  ])
  const known = readRemotes(repo)[from] !== undefined
  const spec = known ? getRemote(repo, from) : {name: `fsck-repair-${hash(Buffer.from(from)).toString('hex').slice(0, 8)}`, url: from}
  const transport = await openTransport(spec)
  const remote = new RemoteRepo(transport, spec.name)
  try {
    await remote.checkFormat()
  } catch (err) {
    throw new VeloError('ERR_VELO_REMOTE', `cannot repair from ${from}: ${(err as Error).message}`, {
      hint: 'name a configured remote (velo remote list) or a directory or URL holding a velo repository',
      cause: err,
    })
  }
  const index = await RemoteIndex.sync(repo, remote)
  return {
    location: transport.location,
    has: (id) => index.has(id),
    async fetch(ids) {
      const r = await fetchObjects({transport, index, ids, packsDir: repo.packsDir, tmpDir: repo.tmpDir})
      return {packs: r.packs, bytes: r.bytes}
    },
    close() {
      if (!known) rmSync(remoteCacheDir(repo, spec.name), {recursive: true, force: true})
    },
  }
}
