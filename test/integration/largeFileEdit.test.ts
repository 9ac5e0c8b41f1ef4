/**
 * Content-defined chunking where it matters: overwriting 1 MiB in place inside a 256 MiB file
 * grows the repository by at most 2 MiB on the next snapshot, and the file's id stays the BLAKE3
 * of its whole content.
 */
import {closeSync, mkdirSync, openSync, readSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

vi.hoisted(() => {
  process.env.VELO_FSYNC = '0'
})

import {snapshot} from '../../src/api/snapshot.js'
import {createHasher} from '../../src/objects/hash.js'
import {Repository} from '../../src/repo/Repository.js'
import {RandomStream, dirBytes, useScratchDir, writeRandomFile} from '../helpers/trees.js'

const MiB = 1 << 20

function blake3File(path: string): string {
  const h = createHasher()
  const fd = openSync(path, 'r')
  try {
    const buf = Buffer.allocUnsafe(8 * MiB)
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos)
      if (n === 0) break
      h.update(buf.subarray(0, n))
      pos += n
    }
  } finally {
    closeSync(fd)
  }
  return h.digest().toString('hex')
}

describe('a 1 MiB overwrite inside a 256 MiB file', () => {
  const scratch = useScratchDir('velo-bigedit-')
  const dir = join(scratch.path, 'data')
  const file = join(dir, 'disk.img')
  const repoPath = join(scratch.path, 'repo')
  let repo: Repository

  beforeAll(async () => {
    mkdirSync(dir)
    writeRandomFile(file, 256 * MiB, 'disk-image')
    repo = Repository.open(repoPath, {create: true})
    const s = await snapshot(repo, {dir, ref: 'img'})
    expect(s.bytes).toBe(256 * MiB)
  })

  afterAll(() => {
    repo?.close()
    scratch.cleanup()
  })

  // offsets: unaligned in the middle, the very start, the last MiB
  for (const [label, offset] of [
    ['the middle', 123_456_789],
    ['the start', 0],
    ['the end', 255 * MiB],
  ] as const) {
    it(`grows the repository by at most 2 MiB (overwrite at ${label})`, async () => {
      const patch = new RandomStream(`patch-${offset}`).next(MiB)
      const fd = openSync(file, 'r+')
      try {
        writeSync(fd, patch, 0, patch.length, offset)
      } finally {
        closeSync(fd)
      }
      const before = dirBytes(repoPath)
      const s = await snapshot(repo, {dir, ref: 'img'})
      const grown = dirBytes(repoPath) - before
      expect(s.hashedFiles).toBe(1)
      expect(grown, `grew by ${(grown / MiB).toFixed(2)} MiB`).toBeLessThanOrEqual(2 * MiB)
      const [entry] = repo.readTree(s.tree)
      expect(entry.id).toBe(blake3File(file))
      expect(entry.size).toBe(256 * MiB)
    })
  }
})
