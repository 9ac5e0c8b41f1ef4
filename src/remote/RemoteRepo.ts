/**
 * The repository layout on a remote (docs/format.md, "Remotes"): `velo.json`, `packs/<name>.pack`
 * + `.idx` (immutable, named by checksum), `refs/<name>` (the snapshot id and a newline). Refs are
 * moved only by conditional writes; remote-tracking refs (`refs/remotes/…`) of a repository that
 * serves as a directory remote are not refs of the remote.
 */
import {type Oid, isOid} from '../objects/oid.js'
import {isValidRefName} from '../refs/RefStore.js'
import {FORMAT_VERSION} from '../repo/Repository.js'
import {VeloError} from '../util/errors.js'
import {mapLimit} from './mapLimit.js'
import {isPreconditionFailed, type Transport} from './Transport.js'

export const REMOTE_MARKER = 'velo.json'
export const packNameRe = /^[dm]-[0-9a-f]{64}$/

export const packKey = (name: string): string => `packs/${name}.pack`
export const indexKey = (name: string): string => `packs/${name}.idx`
export const refKey = (name: string): string => `refs/${name}`

export interface RemoteRef {
  name: string
  oid: Oid
  /** Version tag for the conditional update. */
  etag?: string
}

export class RemoteRepo {
  constructor(readonly transport: Transport, readonly name: string) {}

  get location(): string {
    return this.transport.location
  }

  /** Checks velo.json; with `create`, writes it when the remote is empty (first push). */
  async checkFormat(o: {create?: boolean} = {}): Promise<void> {
    const got = await this.transport.get(REMOTE_MARKER)
    if (!got) {
      if (!o.create) {
        throw new VeloError('ERR_VELO_NOT_FOUND', `${this.location} is not a velo remote (no ${REMOTE_MARKER}): nothing was pushed there yet`, {
          hint: 'check the URL (velo remote list), or push to it first',
        })
      }
      const marker = JSON.stringify({format: 'velo', version: FORMAT_VERSION, created: new Date().toISOString()}, null, 2) + '\n'
      try {
        await this.transport.put(REMOTE_MARKER, Buffer.from(marker), {ifNoneMatch: '*'})
      } catch (err) {
        if (!isPreconditionFailed(err)) throw err
        return this.checkFormat()
      }
      return
    }
    let m: {format?: unknown; version?: unknown}
    try {
      m = JSON.parse(got.data.toString('utf8')) as typeof m
    } catch {
      m = {}
    }
    if (m.format !== 'velo') {
      throw new VeloError('ERR_VELO_REMOTE', `${this.location}/${REMOTE_MARKER} is not a velo marker`, {
        hint: 'this location holds something else; choose another URL or prefix',
      })
    }
    if (m.version !== FORMAT_VERSION) {
      throw new VeloError('ERR_VELO_REMOTE', `${this.location} uses repository format ${String(m.version)}, this velo knows ${FORMAT_VERSION}`, {
        hint: 'upgrade velo',
      })
    }
  }

  async listRefs(): Promise<RemoteRef[]> {
    const keys = (await this.transport.list('refs/'))
      .map((o) => o.key.slice('refs/'.length))
      .filter((n) => isValidRefName(n) && !n.startsWith('remotes/'))
      .sort()
    const refs = await mapLimit(keys, this.transport.capabilities.connections, (n) => this.readRef(n))
    return refs.filter((r): r is RemoteRef => r !== undefined)
  }

  async readRef(name: string): Promise<RemoteRef | undefined> {
    const got = await this.transport.get(refKey(name))
    if (!got) return undefined
    const oid = got.data.toString('utf8').trim()
    if (!isOid(oid)) {
      throw new VeloError('ERR_VELO_CORRUPT', `remote ref ${this.name}/${name} is damaged (${JSON.stringify(oid.slice(0, 40))})`, {
        hint: `push the ref again with velo push ${this.name} REF --force`,
      })
    }
    return {name, oid, etag: got.etag}
  }

  /**
   * Moves a remote ref with a conditional write: created only if absent (expect null), replaced
   * only if unchanged since `expect` was read. Throws ERR_VELO_REF_CONFLICT when it lost a race.
   */
  async writeRef(name: string, to: Oid, expect: RemoteRef | null): Promise<void> {
    try {
      await this.transport.put(refKey(name), Buffer.from(`${to}\n`), expect ? {ifMatch: expect.etag ?? ''} : {ifNoneMatch: '*'})
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err
      const now = await this.readRef(name).catch(() => undefined)
      if (now?.oid === to) return
      throw new VeloError('ERR_VELO_REF_CONFLICT', `remote ref ${this.name}/${name} moved to ${now?.oid.slice(0, 12) ?? '(nothing)'} while this push ran (expected ${expect?.oid.slice(0, 12) ?? '(nothing)'})`, {
        hint: `another push won; run velo pull ${this.name} ${name}, then push again (or --force to overwrite)`,
        data: {ref: name, expected: expect?.oid ?? null, actual: now?.oid ?? null},
      })
    }
  }

  /** Names of the packs whose index is on the remote (a pack without index is not there yet). */
  async listPacks(): Promise<string[]> {
    const names: string[] = []
    for (const o of await this.transport.list('packs/')) {
      if (!o.key.endsWith('.idx')) continue
      const name = o.key.slice('packs/'.length, -'.idx'.length)
      if (packNameRe.test(name)) names.push(name)
    }
    return names.sort()
  }
}
