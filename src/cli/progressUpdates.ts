/** The core's progress reports, as updates for a ProgressReporter (src/ui). */
import type {ScanProgress} from '../snapshot/scanTree.js'
import type {ProgressUpdate} from '../ui/ProgressEvent.js'

/** Snapshot, diff and status scans: walk the tree, hash what changed (with a total), build trees. */
export function scanUpdate(p: ScanProgress): ProgressUpdate {
  if (p.phase === 'hash') {
    return {phase: 'hash', done: p.hashedFiles, total: p.queuedFiles, bytes: p.hashedBytes, totalBytes: p.queuedBytes, unit: 'files'}
  }
  return {phase: p.phase, done: p.files, bytes: p.bytes, unit: 'files'}
}

/** restoreTree's reports. */
export function restoreUpdate(p: {files: number; bytes: number; totalFiles: number; totalBytes: number}): ProgressUpdate {
  return {phase: 'write', done: p.files, total: p.totalFiles, bytes: p.bytes, totalBytes: p.totalBytes, unit: 'files'}
}
