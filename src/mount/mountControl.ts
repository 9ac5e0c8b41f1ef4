/**
 * The control socket of a mount server (<repo>/mounts/<id>/ctl.sock): `velo snapshot MNT` asks the
 * process that serves MNT, which has the repository's indexes and the snapshot's trees loaded
 * already, instead of loading them again (mountControlClient.ts is the other side).
 *
 * Protocol, one JSON object per line: the client sends {op: 'snapshot', options}; the server
 * answers with any number of {type: 'warning', message} and then {type: 'result', result} or
 * {type: 'error', error} (VeloError.toJSON()). Requests run one at a time.
 */
import {chmodSync, unlinkSync} from 'node:fs'
import {createServer, type Socket} from 'node:net'
import type {SnapshotResult} from '../api/snapshot.js'
import type {Repository} from '../repo/Repository.js'
import {VeloError, toUserError} from '../util/errors.js'
import type {MountRecord} from './registry.js'

export const CONTROL_SOCKET = 'ctl.sock'

export interface SnapshotRequest {
  op: 'snapshot'
  options: {ref?: string; message?: string; meta?: Record<string, string>; sign?: boolean}
}

export interface ControlHandle {
  close(): void
}

async function snapshotHere(repo: Repository, rec: MountRecord, o: SnapshotRequest['options'], warn: (m: string) => void): Promise<SnapshotResult> {
  const {snapshot} = await import('../api/snapshot.js')
  repo.packs.refresh()
  const r = await snapshot(repo, {
    dir: rec.mountpoint,
    ref: o.ref,
    message: o.message,
    meta: o.meta ?? {},
    sign: o.sign ? (await import('../audit/signingKey.js')).loadSigningKey(repo) : undefined,
    onWarning: warn,
  })
  // Every snapshot adds a small metadata pack: consolidate them now and then (as the CLI does).
  if (repo.packs.packs.filter((p) => p.index.kind === 'meta').length > 50) {
    await (await import('../maintenance/repack.js')).maybeAutoRepack(repo, {onWarning: warn})
  }
  return r
}

/** Listens on `path` for requests about the mount `rec`; undefined when the path is too long for a socket. */
export async function listenControl(path: string, repo: Repository, rec: MountRecord, log: (m: string) => void): Promise<ControlHandle | undefined> {
  if (Buffer.byteLength(path) > 100) return undefined
  try {
    unlinkSync(path)
  } catch {
    // none left over
  }
  let queue: Promise<unknown> = Promise.resolve()
  const serve = (c: Socket): void => {
    let buf = ''
    c.setEncoding('utf8')
    c.on('error', () => undefined)
    const send = (m: object): void => {
      if (!c.destroyed) c.write(JSON.stringify(m) + '\n')
    }
    c.on('data', (d: string) => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const line = buf.slice(0, nl)
      buf = ''
      c.pause()
      queue = queue.then(async () => {
        try {
          const req = JSON.parse(line) as SnapshotRequest
          if (req.op !== 'snapshot') throw new Error(`unknown request ${String(req.op)}`)
          const t0 = performance.now()
          const cpu0 = process.cpuUsage()
          const result = await snapshotHere(repo, rec, req.options ?? {}, (message) => send({type: 'warning', message}))
          send({type: 'result', result})
          const cpu = process.cpuUsage(cpu0)
          log(`snapshot ${result.id} in ${Math.round(performance.now() - t0)} ms (${Math.round((cpu.user + cpu.system) / 1000)} ms CPU)`)
        } catch (err) {
          const e = toUserError(err)
          if (!(err instanceof VeloError)) log(`control request failed: ${(err as Error)?.stack ?? String(err)}`)
          send({type: 'error', error: e.toJSON()})
        }
        c.end()
      })
    })
  }
  const server = createServer(serve)
  const ok = await new Promise<boolean>((res) => {
    server.once('error', (err) => {
      log(`no control socket: ${err.message}`)
      res(false)
    })
    server.listen(path, () => res(true))
  })
  if (!ok) return undefined
  chmodSync(path, 0o600)
  server.unref()
  return {
    close: () => {
      server.close()
      try {
        unlinkSync(path)
      } catch {
        // gone
      }
    },
  }
}
