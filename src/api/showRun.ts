/** `velo show RUN`: a run record with what helps reading it (refs, trace, signature check). */
import {keyFingerprint, verifySignature} from '../audit/ed25519.js'
import type {Oid} from '../objects/oid.js'
import {runSigningPayload, type RunRecord} from '../objects/runRecord.js'
import type {Repository} from '../repo/Repository.js'
import {readRun, readTrace, resolveRun} from '../run/readRun.js'
import {exitCodeOf} from './run.js'

export interface RunView {
  type: 'run'
  id: Oid
  refs: string[]
  record: RunRecord
  /** velo run's exit code for it. */
  status: number
  /** The access trace (read from its blob when stored apart). */
  trace: string[]
  signature: {fingerprint: string; valid: boolean} | null
}

export function showRun(repo: Repository, rev: string): RunView {
  const id = resolveRun(repo, rev)
  const record = readRun(repo, id)
  const refs = repo.refs.list().filter((r) => r.oid === id).map((r) => r.name)
  const sig = record.signature
  return {
    type: 'run',
    id,
    refs,
    record,
    status: exitCodeOf(record),
    trace: readTrace(repo, record),
    signature: sig ? {fingerprint: keyFingerprint(sig.key), valid: verifySignature(sig, runSigningPayload(record))} : null,
  }
}
