/** Progress of push, pull and clone, reported through onProgress (the commands render it). */
export type TransferPhase = 'refs' | 'index' | 'plan' | 'upload' | 'download' | 'install'

export interface TransferProgress {
  phase: TransferPhase
  /** Objects (plan) or packs/requests (upload, download, index) done so far, and the total when known. */
  done: number
  total?: number
  bytes: number
  totalBytes?: number
}

export type OnTransferProgress = (p: TransferProgress) => void

/** What the items of each phase are, for the progress views (src/ui). */
export function transferUpdate(p: TransferProgress): TransferProgress & {unit: string} {
  const unit = p.phase === 'plan' ? 'objects' : p.phase === 'index' ? 'indexes' : p.phase === 'download' ? 'requests' : 'packs'
  return {...p, unit}
}
