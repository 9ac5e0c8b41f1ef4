/**
 * The only import of isomorphic-git (adapter), loaded on first use: only the git commands pay for
 * it. Callers pass `cache` (one object per command) to every read: on packed repositories
 * isomorphic-git re-reads pack indexes on every call without it (10x slower).
 */
import fs from 'node:fs'

export type Git = typeof import('isomorphic-git')
export type {CommitObject, TreeEntry as GitTreeEntry} from 'isomorphic-git'

let loaded: Git | undefined

export async function loadGit(): Promise<Git> {
  loaded ??= await import('isomorphic-git')
  return loaded
}

/** The fs isomorphic-git uses (node's). */
export const gitFs = fs

/** Where a git repository keeps its objects and refs, and its work tree if it has one. */
export interface GitLocation {
  gitdir: string
  /** Work tree; undefined for a bare repository. */
  dir?: string
}
