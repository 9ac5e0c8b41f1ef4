/** Helpers for the maintenance tests (gc, repack, fsck): repositories, snapshots, aging packs. */
import {readdirSync, utimesSync, writeFileSync, mkdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {snapshot, type SnapshotResult} from '../../src/api/snapshot.js'
import type {Oid} from '../../src/objects/oid.js'
import {Repository} from '../../src/repo/Repository.js'
import {makeTree, type Spec} from './trees.js'

export const DAY = 86_400_000

export function openRepo(path: string): Repository {
  return Repository.open(path, {create: true})
}

/** Builds `spec` under `dir` (replacing nothing else) and snapshots it into `ref`. */
export async function snap(repo: Repository, dir: string, ref: string | undefined, spec?: Record<string, Spec>): Promise<SnapshotResult> {
  if (spec) makeTree(dir, spec)
  return snapshot(repo, {dir, ref, noRef: ref === undefined})
}

/** Files named `${prefix}N.txt` with distinct contents. */
export function files(prefix: string, n: number, extra = ''): Record<string, Spec> {
  const out: Record<string, Spec> = {}
  for (let i = 0; i < n; i++) out[`${prefix}${i}.txt`] = `${prefix} file ${i} ${extra}\n`.repeat(3 + (i % 7))
  return out
}

export function packNames(repo: Repository, kind?: 'm' | 'd'): string[] {
  return readdirSync(repo.packsDir)
    .filter((f) => f.endsWith('.pack') && (!kind || f.startsWith(`${kind}-`)))
    .map((f) => f.slice(0, -5))
    .sort()
}

/** Sets the mtime of every pack present now to `ageMs` ago (their objects' age). */
export function agePacks(repo: Repository, ageMs: number, only?: string[]): void {
  const t = new Date(Date.now() - ageMs)
  for (const name of only ?? packNames(repo)) utimesSync(join(repo.packsDir, `${name}.pack`), t, t)
}

/** A fresh view of the repository (as a new command would have). */
export function reopen(repo: Repository): Repository {
  repo.close()
  return Repository.open(repo.root)
}

export function has(repo: Repository, id: Oid | string): boolean {
  const r = Repository.open(repo.root)
  try {
    return r.packs.has(id as Oid)
  } finally {
    r.close()
  }
}

export function writeHolder(repo: Repository, dir: 'mounts' | 'leases', name: string, body: Record<string, unknown>): void {
  mkdirSync(dirname(join(repo.root, dir, name)), {recursive: true})
  writeFileSync(join(repo.root, dir, name), JSON.stringify(body))
}

/** The id of `path` in a snapshot. */
export function idAt(repo: Repository, snapshotId: Oid, path: string): Oid {
  let tree = repo.readSnapshot(snapshotId).tree
  const parts = path.split('/')
  for (let i = 0; i < parts.length; i++) {
    const e = repo.readTree(tree).find((x) => x.name === parts[i])
    if (!e) throw new Error(`${path}: no ${parts[i]}`)
    if (i === parts.length - 1) return e.id
    tree = e.id
  }
  throw new Error('unreachable')
}
