/**
 * `velo verify [REV|RUN]`: from the given root (default: every ref), re-hashes every reachable
 * object (run records and their stdout, stderr and trace blobs, snapshots, trees, files, chunks;
 * chunked files also as a whole) and checks every signature. Problems name the object and the
 * path that leads to it; the first one is the first broken link. The walk is the object graph of
 * gc and fsck (src/maintenance/ObjectGraph.ts); run chains are followed here, so that a problem
 * below a run names the run.
 */
import {keyFingerprint, verifySignature} from '../audit/ed25519.js'
import {trustedKeys} from '../audit/signingKey.js'
import {ObjectGraph, type Root, type Via} from '../maintenance/ObjectGraph.js'
import {listRefsSafe} from '../maintenance/roots.js'
import {decodeChunkList} from '../objects/chunkList.js'
import {createHasher} from '../objects/hash.js'
import type {Oid} from '../objects/oid.js'
import {decodeRunRecord, runSigningPayload, type RunRecord} from '../objects/runRecord.js'
import {decodeSnapshot, encodeSnapshot, type Signature} from '../objects/snapshot.js'
import {ObjectType} from '../pack/block.js'
import type {Repository} from '../repo/Repository.js'
import {TYPE_NAMES} from '../store/PackStore.js'
import {VeloError} from '../util/errors.js'

export type VerifyProblemKind = 'missing' | 'damaged' | 'wrong-type' | 'bad-signature' | 'untrusted-signature' | 'unsigned' | 'ref-damaged'

export interface VerifyProblem {
  kind: VerifyProblemKind
  id?: Oid
  type?: string
  /** What leads to it: the ref (or argument), run, snapshot and path. */
  path: string
  message: string
}

export interface Signer {
  key: string
  fingerprint: string
  trusted: boolean
  objects: number
}

export interface VerifyResult {
  ok: boolean
  roots: {name: string; id: Oid; type: string}[]
  runs: number
  snapshots: number
  objects: number
  bytes: number
  signatures: {valid: number; invalid: number; unsigned: number; untrusted: number}
  signers: Signer[]
  problems: VerifyProblem[]
  durationMs: number
}

export interface VerifyOptions {
  rev?: string
  /** Every run record and every snapshot a root names must carry a valid signature by a trusted key. */
  requireSigned?: boolean
  onProgress?(p: {objects: number; bytes: number}): void
}

const MAX_PROBLEMS = 100

function describe(v: Via): string {
  const root = v.root.kind === 'ref' ? `ref ${v.root.name}` : v.root.name
  if (!v.snapshot) return root
  return `${root}: snapshot ${v.snapshot.slice(0, 12)}${v.path ? `, path ${v.path}` : ''}`
}

export function verify(repo: Repository, o: VerifyOptions = {}): VerifyResult {
  const started = Date.now()
  const res: VerifyResult = {ok: false, roots: [], runs: 0, snapshots: 0, objects: 0, bytes: 0, signatures: {valid: 0, invalid: 0, unsigned: 0, untrusted: 0}, signers: [], problems: [], durationMs: 0}
  const trusted = trustedKeys(repo)
  const signers = new Map<string, Signer>()
  const reported = new Set<string>()
  const verifiedChunks = new Set<string>()
  const problem = (p: VerifyProblem): void => {
    const key = `${p.kind}:${p.id ?? p.path}`
    if (reported.has(key)) return
    reported.add(key)
    if (res.problems.length < MAX_PROBLEMS) res.problems.push(p)
  }
  const progress = (): void => {
    if (res.objects % 256 === 0) o.onProgress?.({objects: res.objects, bytes: res.bytes})
  }

  /** Counts a signature (or its absence); `mustSign`: unsigned or untrusted is a problem under requireSigned. */
  const checkSignature = (what: string, id: Oid, path: string, sig: Signature | undefined, payload: () => Buffer, mustSign: boolean): void => {
    if (!sig) {
      res.signatures.unsigned++
      if (mustSign && o.requireSigned) problem({kind: 'unsigned', id, type: what, path, message: `${what} ${id} is not signed`})
      return
    }
    if (!verifySignature(sig, payload())) {
      res.signatures.invalid++
      problem({kind: 'bad-signature', id, type: what, path, message: `${what} ${id} has an invalid signature (key ${keyFingerprint(sig.key)}): it was changed after it was signed`})
      return
    }
    res.signatures.valid++
    const s = signers.get(sig.key) ?? {key: sig.key, fingerprint: keyFingerprint(sig.key), trusted: trusted.has(sig.key), objects: 0}
    s.objects++
    signers.set(sig.key, s)
    if (!s.trusted) {
      res.signatures.untrusted++
      if (mustSign && o.requireSigned) problem({kind: 'untrusted-signature', id, type: what, path, message: `${what} ${id} is signed by ${s.fingerprint}, which is not a trusted key`})
    }
  }

  const graph = new ObjectGraph(repo.packs)
  const rootSnapshots = new Set<string>()
  const hooks = {
    onMissing(id: Oid, expect: string, via: Via) {
      problem({kind: 'missing', id, type: expect === 'any' ? undefined : expect, path: describe(via), message: `${expect === 'any' ? 'object' : expect} ${id} is missing`})
    },
    onDamaged(id: Oid, message: string, via: Via) {
      problem({kind: /where a .* was expected/.test(message) ? 'wrong-type' : 'damaged', id, path: describe(via), message: `${id}: ${message}`})
    },
    onVisit(id: Oid, type: number, via: Via) {
      res.objects++
      progress()
      try {
        if (type === ObjectType.blob) {
          if (!verifiedChunks.has(id)) res.bytes += repo.packs.read(id, ObjectType.blob).data.length
        } else if (type === ObjectType.chunkList) {
          verifyChunked(id)
        } else if (type === ObjectType.snapshot) {
          const data = repo.packs.read(id, ObjectType.snapshot).data
          res.bytes += data.length
          const s = decodeSnapshot(data, `snapshot ${id}`)
          res.snapshots++
          checkSignature('snapshot', id, describe(via), s.signature, () => encodeSnapshot({...s, signature: undefined}), rootSnapshots.has(id))
        } else if (type === ObjectType.tree) {
          res.bytes += repo.packs.read(id, ObjectType.tree).data.length
        }
      } catch (err) {
        problem({kind: 'damaged', id, type: TYPE_NAMES[type], path: describe(via), message: (err as Error).message})
      }
    },
  }

  /** A chunked file: the list, every chunk, and the chunks put together must hash to the file's id. */
  function verifyChunked(id: Oid): void {
    const {chunks, size} = decodeChunkList(repo.packs.read(id, ObjectType.chunkList).data, `chunk list ${id}`)
    const h = createHasher()
    let total = 0
    for (const c of chunks) {
      if (!repo.packs.has(c.id)) return // the walk reports it, with its path
      const data = repo.packs.read(c.id, ObjectType.blob).data
      if (data.length !== c.size) throw new VeloError('ERR_VELO_CORRUPT', `chunk ${c.id} of ${id} has ${data.length} bytes, its list says ${c.size}`)
      verifiedChunks.add(c.id)
      h.update(data)
      total += data.length
    }
    res.bytes += total
    if (total !== size || h.digest().toString('hex') !== id) {
      throw new VeloError('ERR_VELO_CORRUPT', `chunked file ${id}: its chunks put together do not hash to its id`)
    }
  }

  const seenRuns = new Set<string>()
  function walkRuns(start: Oid, label: string): void {
    let cur: Oid | null = start
    let path = label
    while (cur && !seenRuns.has(cur)) {
      seenRuns.add(cur)
      const here: string = `${label}: run ${cur.slice(0, 12)}`
      let rec: RunRecord
      try {
        const t = repo.packs.typeOf(cur)
        if (t === undefined) {
          problem({kind: 'missing', id: cur, type: 'run', path, message: `run record ${cur} is missing`})
          return
        }
        if (t !== ObjectType.run) {
          problem({kind: 'wrong-type', id: cur, type: TYPE_NAMES[t], path, message: `${cur} is a ${TYPE_NAMES[t] ?? 'unknown object'} where a run record was expected`})
          return
        }
        const data = repo.packs.read(cur, ObjectType.run).data
        res.bytes += data.length
        rec = decodeRunRecord(data, `run record ${cur}`)
      } catch (err) {
        problem({kind: 'damaged', id: cur, type: 'run', path, message: (err as Error).message})
        return
      }
      res.runs++
      res.objects++
      checkSignature('run record', cur, path, rec.signature, () => runSigningPayload(rec), true)
      const parts: [string, Oid, number[]][] = [
        ['input', rec.input, [ObjectType.snapshot]],
        ['output', rec.output, [ObjectType.snapshot]],
        ['stdout', rec.stdout.id, [ObjectType.blob, ObjectType.chunkList]],
        ['stderr', rec.stderr.id, [ObjectType.blob, ObjectType.chunkList]],
      ]
      if (rec.trace && 'blob' in rec.trace) parts.push(['access trace', rec.trace.blob, [ObjectType.blob, ObjectType.chunkList]])
      const roots: Root[] = []
      for (const [what, id, types] of parts) {
        const t = repo.packs.typeOf(id)
        const where = `${here} ${what}`
        if (t === undefined) problem({kind: 'missing', id, type: what, path: where, message: `the ${what} ${id} of run ${cur} is missing`})
        else if (!types.includes(t)) problem({kind: 'wrong-type', id, type: TYPE_NAMES[t], path: where, message: `the ${what} ${id} of run ${cur} is a ${TYPE_NAMES[t]}`})
        else roots.push({kind: 'given', name: where, id})
      }
      graph.walk(roots, hooks)
      path = `${here} (previous)`
      cur = rec.previous
    }
  }

  let starts: {name: string; id: Oid}[]
  if (o.rev !== undefined) {
    const base = o.rev
    starts = [{name: base, id: repo.resolve(base)}]
  } else {
    const refs = listRefsSafe(repo)
    for (const d of refs.damaged) problem({kind: 'ref-damaged', path: `ref ${d.name}`, message: `ref ${d.name}: ${d.message}`})
    starts = refs.refs.map((r) => ({name: `ref ${r.name}`, id: r.oid}))
  }
  for (const s of starts) {
    const t = repo.packs.typeOf(s.id)
    res.roots.push({name: s.name, id: s.id, type: TYPE_NAMES[t ?? 0] ?? 'missing'})
    if (t === ObjectType.run) walkRuns(s.id, s.name)
    else {
      if (t === ObjectType.snapshot) rootSnapshots.add(s.id)
      graph.walk([{kind: 'given', name: s.name, id: s.id}], hooks)
    }
  }
  res.signers = [...signers.values()]
  res.ok = res.problems.length === 0
  res.durationMs = Date.now() - started
  return res
}
