/**
 * Objects a remote has promised: the pack indexes cached in `<repo>/remotes-cache/<remote>/` (by
 * push, pull and lazy checkouts). A file content missing locally but listed there is not damage,
 * only not fetched yet (a `--metadata-only` pull, a lazy mount), as with git's promisor remotes.
 */
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {PackIndex} from '../pack/packIndex.js'
import type {Repository} from '../repo/Repository.js'

export interface Promised {
  /** The remote whose cached indexes list `id`, if any. */
  remoteOf(id: Uint8Array): string | undefined
}

export function loadPromised(repo: Repository): Promised {
  const indexes: {remote: string; index: PackIndex}[] = []
  const base = join(repo.root, 'remotes-cache')
  let remotes: string[] = []
  try {
    remotes = readdirSync(base)
  } catch {
    /* no remote was ever used */
  }
  for (const remote of remotes) {
    let files: string[] = []
    try {
      files = readdirSync(join(base, remote)).filter((f) => f.endsWith('.idx'))
    } catch {
      continue
    }
    for (const f of files) {
      try {
        indexes.push({remote, index: new PackIndex(readFileSync(join(base, remote, f)))})
      } catch {
        /* a damaged cache entry promises nothing */
      }
    }
  }
  return {
    remoteOf(id) {
      for (const x of indexes) if (x.index.find(id) >= 0) return x.remote
      return undefined
    },
  }
}
