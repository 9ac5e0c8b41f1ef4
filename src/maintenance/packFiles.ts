/**
 * The files of a repository's packs directory, paired up: `<d|m>-<hex>.pack` with its `.idx`.
 * A pack without an index is invisible to readers (left by an interrupted writer or gc); an index
 * without its pack means the pack was lost.
 */
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {isErrno} from '../util/errors.js'

export interface PackFile {
  name: string
  kind: 'data' | 'meta'
  packPath: string
  idxPath: string
  hasPack: boolean
  hasIdx: boolean
  /** The pack's mtime (its objects' age); the index's when the pack is missing. */
  mtimeMs: number
  packBytes: number
  idxBytes: number
}

const nameRe = /^([dm])-([0-9a-f]{64})\.(pack|idx)$/

export function listPackFiles(packsDir: string): PackFile[] {
  let names: string[]
  try {
    names = readdirSync(packsDir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return []
    throw err
  }
  const by = new Map<string, PackFile>()
  for (const f of names) {
    const m = nameRe.exec(f)
    if (!m) continue
    const name = `${m[1]}-${m[2]}`
    let p = by.get(name)
    if (!p) {
      p = {name, kind: m[1] === 'm' ? 'meta' : 'data', packPath: join(packsDir, `${name}.pack`), idxPath: join(packsDir, `${name}.idx`), hasPack: false, hasIdx: false, mtimeMs: 0, packBytes: 0, idxBytes: 0}
      by.set(name, p)
    }
    let st
    try {
      st = statSync(join(packsDir, f))
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue // removed while listing
      throw err
    }
    if (m[3] === 'pack') {
      p.hasPack = true
      p.packBytes = st.size
      p.mtimeMs = st.mtimeMs
    } else {
      p.hasIdx = true
      p.idxBytes = st.size
      if (!p.hasPack) p.mtimeMs = st.mtimeMs
    }
  }
  return [...by.values()].filter((p) => p.hasPack || p.hasIdx).sort((a, b) => (a.name < b.name ? -1 : 1))
}
