/** `velo diff RUN`: what a run changed, from its input snapshot to its output snapshot. */
import {diffTrees} from '../diff/diffTrees.js'
import type {Repository} from '../repo/Repository.js'
import {readRun, resolveRun} from '../run/readRun.js'
import type {DiffResult} from './diff.js'

export function diffRun(repo: Repository, rev: string): DiffResult {
  const r = readRun(repo, resolveRun(repo, rev))
  const tree = (id: typeof r.input) => repo.readSnapshot(id).tree
  return {from: r.input, to: r.output, changes: diffTrees((t) => repo.readTree(t), tree(r.input), tree(r.output))}
}
