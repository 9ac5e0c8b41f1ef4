/**
 * Keeps a run's snapshots alive while it runs: a lease file `<repo>/leases/run-<pid>-<rand>.json`
 * (the gc root contract of src/maintenance/roots.ts) naming the input, then the output, until the
 * run record that references them is stored and its ref moved.
 */
import {randomBytes} from 'node:crypto'
import {rmSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import type {Oid} from '../objects/oid.js'
import type {Repository} from '../repo/Repository.js'
import {atomicWrite, mkdirp} from '../util/fsx.js'

export class RunLease {
  readonly file: string
  private readonly ids: Oid[] = []

  constructor(
    private readonly repo: Repository,
    private readonly command: string,
  ) {
    const dir = join(repo.root, 'leases')
    mkdirp(dir)
    this.file = join(dir, `run-${process.pid}-${randomBytes(4).toString('hex')}.json`)
  }

  add(...ids: Oid[]): void {
    this.ids.push(...ids)
    const body = {pid: process.pid, host: hostname(), command: this.command, since: new Date().toISOString(), roots: this.ids}
    atomicWrite(this.file, JSON.stringify(body) + '\n', {sync: false})
  }

  release(): void {
    rmSync(this.file, {force: true})
  }
}
