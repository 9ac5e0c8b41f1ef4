/**
 * Where gc and fsck start: refs (remote-tracking refs included), reflog entries, live mounts and
 * leases of operations in flight.
 *
 * Mount and lease contract: a JSON record per holder, `<repo>/mounts/<id>/mount.json` (the mount
 * registry, src/mount/registry.ts) or `<repo>/leases/<name>.json` (any long operation), e.g.
 *   {"pid": 1234, "host": "ci-7", "snapshot": "<id>", "roots": ["<id>", ...], "expires": "<ISO time>"}
 * Every object id in `snapshot`, `tree`, `roots` or `ids` is a gc root while the holder lives: on
 * this host while its pid runs (records of dead processes are ignored and reported), on another
 * host until `expires` (forever without it). A record with `ended` is history, not a holder.
 * Write the record (atomically) before using the ids.
 */
import {readFileSync, readdirSync, statSync, unlinkSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {isOid, type Oid} from '../objects/oid.js'
import {acquireLock, processAlive} from '../refs/lockFile.js'
import type {ReflogEntry} from '../refs/RefStore.js'
import type {Repository} from '../repo/Repository.js'
import {isErrno} from '../util/errors.js'
import {atomicWrite} from '../util/fsx.js'
import type {Root} from './ObjectGraph.js'

function walkFiles(dir: string, rel = '', out: string[] = []): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return out
    throw err
  }
  for (const n of names.sort()) {
    if (n.startsWith('.') || n.endsWith('.lock')) continue
    const p = join(dir, n)
    const r = rel ? `${rel}/${n}` : n
    let isDir = false
    try {
      isDir = statSync(p).isDirectory()
    } catch {
      continue
    }
    if (isDir) walkFiles(p, r, out)
    else out.push(r)
  }
  return out
}

export interface RefListing {
  refs: {name: string; oid: Oid}[]
  damaged: {name: string; message: string}[]
}

/** Every ref, with the damaged ones listed apart instead of failing the whole listing. */
export function listRefsSafe(repo: Repository): RefListing {
  const res: RefListing = {refs: [], damaged: []}
  for (const name of walkFiles(repo.refs.refsDir)) {
    try {
      const oid = repo.refs.read(name)
      if (oid) res.refs.push({name, oid})
      else res.damaged.push({name, message: 'not a valid ref file name'})
    } catch (err) {
      res.damaged.push({name, message: (err as Error).message})
    }
  }
  return res
}

export interface ReflogListing {
  name: string
  entries: ReflogEntry[]
}

export function listReflogs(repo: Repository): ReflogListing[] {
  return walkFiles(repo.refs.logsDir).map((name) => ({name, entries: repo.refs.readLog(name)}))
}

/** Old and new ids of every reflog entry newer than `cutoffMs`. */
export function reflogRoots(logs: ReflogListing[], cutoffMs = -Infinity): Root[] {
  const out: Root[] = []
  for (const l of logs) {
    for (const e of l.entries) {
      if (Date.parse(e.time) <= cutoffMs) continue
      for (const id of [e.new, e.old]) if (id && isOid(id)) out.push({kind: 'reflog', name: `${l.name}@{${e.time}}`, id})
    }
  }
  return out
}

/**
 * Drops reflog entries older than `cutoffMs` (they stop being gc roots), each file rewritten
 * atomically under its ref's lock. Returns the number of entries dropped.
 */
export function expireReflogs(repo: Repository, cutoffMs: number, o: {dryRun?: boolean; onWarning?: (m: string) => void} = {}): number {
  let dropped = 0
  for (const name of walkFiles(repo.refs.logsDir)) {
    const entries = repo.refs.readLog(name)
    const keep = entries.filter((e) => {
      const t = Date.parse(e.time)
      return Number.isNaN(t) || t > cutoffMs
    })
    if (keep.length === entries.length) continue
    dropped += entries.length - keep.length
    if (o.dryRun) continue
    const lock = acquireLock(join(repo.refs.refsDir, `${name}.lock`), {command: 'gc (reflog expire)', onWarning: o.onWarning, what: `ref ${name}: lock`})
    try {
      // Entries appended since we read are kept: re-read under the lock.
      const now = repo.refs.readLog(name).filter((e) => {
        const t = Date.parse(e.time)
        return Number.isNaN(t) || t > cutoffMs
      })
      const path = join(repo.refs.logsDir, name)
      if (now.length === 0 && repo.refs.read(name) === undefined) unlinkSync(path)
      else atomicWrite(path, now.map((e) => JSON.stringify(e) + '\n').join(''))
    } finally {
      lock.release()
    }
  }
  return dropped
}

export interface HolderRoots {
  roots: Root[]
  /** Files of holders that are gone (dead pid on this host, or expired). */
  ignored: {file: string; reason: string}[]
}

/** The holder files: `<dir>/NAME.json` and `<dir>/ID/mount.json` (the mount registry layout). */
function holderFiles(base: string): string[] {
  let names: string[]
  try {
    names = readdirSync(base, {withFileTypes: true}).filter((e) => !e.name.startsWith('.')).map((e) => (e.isDirectory() ? `${e.name}/mount.json` : e.name))
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return []
    throw err
  }
  return names.filter((n) => n.endsWith('.json')).sort()
}

/** Roots recorded by live mounts (`<repo>/mounts/`) and leases (`<repo>/leases/`). */
export function holderRoots(repo: Repository, now = Date.now()): HolderRoots {
  const res: HolderRoots = {roots: [], ignored: []}
  const host = hostname()
  for (const [dir, kind] of [['mounts', 'mount'], ['leases', 'lease']] as const) {
    const base = join(repo.root, dir)
    for (const f of holderFiles(base)) {
      let o: Record<string, unknown>
      try {
        o = JSON.parse(readFileSync(join(base, f), 'utf8')) as Record<string, unknown>
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue // a directory without a record
        // Being written, or damaged: keep nothing from it, but say so.
        res.ignored.push({file: `${dir}/${f}`, reason: 'unreadable'})
        continue
      }
      if (o.ended !== undefined) continue // an unmounted mount's record, kept for history
      const pid = typeof o.pid === 'number' ? o.pid : undefined
      const h = typeof o.host === 'string' ? o.host : host
      if (typeof o.expires === 'string' && Date.parse(o.expires) < now) {
        res.ignored.push({file: `${dir}/${f}`, reason: `expired at ${o.expires}`})
        continue
      }
      if (pid !== undefined && h === host && !processAlive(pid)) {
        res.ignored.push({file: `${dir}/${f}`, reason: `process ${pid} is no longer running`})
        continue
      }
      const ids: string[] = []
      for (const k of ['snapshot', 'tree', 'root']) if (typeof o[k] === 'string') ids.push(o[k] as string)
      for (const k of ['roots', 'ids', 'snapshots']) if (Array.isArray(o[k])) for (const x of o[k] as unknown[]) if (typeof x === 'string') ids.push(x)
      for (const id of ids) if (isOid(id)) res.roots.push({kind, name: `${dir}/${f}`, id})
    }
  }
  return res
}
