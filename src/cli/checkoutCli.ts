/**
 * `velo checkout REV MNT` without oclif (bin/run.js routes here; mount latency is the point).
 * By default this process only launches the server: a detached `velo checkout ... --foreground
 * --ready-fd 3` whose output goes to the mount's log in the repository and which writes one JSON
 * line on fd 3 when the mount answers (or why it failed). With --foreground the mount is served by
 * this process until SIGINT/SIGTERM or an unmount. Imports stay light until the serving code runs.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync} from 'node:fs'
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {VeloError} from '../util/errors.js'
import type {MountRecord} from '../mount/registry.js'
import {progressRelay, type ProgressLine} from '../mount/progressRelay.js'
import {checkoutViaSpare, ensureSpare} from '../mount/spareClient.js'
import type {OnTransferProgress, TransferProgress} from '../remote/progress.js'
import type {ProgressReporter} from '../ui/ProgressEvent.js'
import {reportError} from './output.js'

export interface CheckoutArgs {
  rev: string
  mountpoint: string
  upper?: string
  readOnly: boolean
  foreground: boolean
  json: boolean
  quiet?: boolean
  repo?: string
  /** Remote that serves content missing locally (lazy checkout). */
  remote?: string
  /** Internal: descriptor on which a background server reports readiness. */
  readyFd?: number
  /** Internal: the mount's id, chosen by the launcher. */
  id?: string
}

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
/** How long the launcher waits for the server to report. */
const READY_TIMEOUT_MS = Number(process.env.VELO_MOUNT_TIMEOUT_MS) || 60_000

export function renderMount(r: MountRecord): string {
  return `mounted ${r.snapshot.slice(0, 12)} at ${r.mountpoint} (${r.readOnly ? 'read-only, ' : ''}upper ${r.upper ?? 'none'}, pid ${r.pid})`
}

function repoRoot(explicit?: string): string {
  // Same rule as Repository.defaultRepoPath, without loading the repository code.
  if (explicit) return resolve(explicit)
  if (process.env.VELO_REPO) return resolve(process.env.VELO_REPO)
  return join(homedir(), '.velo')
}

/** Same form as registry.newMountId (not imported: the launcher stays free of native modules). */
function newId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')
  return `${t}-${Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, '0')}`
}

function print(a: CheckoutArgs, rec: MountRecord): void {
  // --json: one line, {"type":"summary", ...result} like every command's result (docs/json.md).
  process.stdout.write((a.json ? JSON.stringify({type: 'summary', ...rec}) : renderMount(rec)) + '\n')
}

/** Serves the mount in this process; resolves with the exit code once it is unmounted. */
async function serveHere(a: CheckoutArgs): Promise<number> {
  const [{Repository}, {serveMount}] = await Promise.all([import('../repo/Repository.js'), import('../mount/serveMount.js')])
  const root = repoRoot(a.repo)
  const child = a.readyFd !== undefined
  const id = a.id ?? newId()
  const dir = join(root, 'mounts', id)
  const log = (m: string): void => void process.stderr.write(`${new Date().toISOString()} ${m}\n`)
  let server
  const repo = Repository.open(a.repo)
  try {
    const onProgress = child ? progressRelay((line) => writeSync(a.readyFd!, line)) : undefined
    server = await serveMount(repo, {rev: a.rev, mountpoint: a.mountpoint, upper: a.upper, readOnly: a.readOnly, id, remote: a.remote, log: child ? log : undefined, onProgress})
  } catch (err) {
    repo.close()
    // Nothing was served: the mount's directory holds nothing worth keeping.
    if (!child) rmSync(dir, {recursive: true, force: true})
    throw err
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void server.stop())
  if (child) {
    try {
      writeSync(a.readyFd!, JSON.stringify({ok: true, record: server.record}) + '\n')
      closeSync(a.readyFd!)
    } catch {
      // the launcher is gone; keep serving
    }
    // The next checkout of this repository finds a server waiting (a little later: not to compete
    // with the first accesses to this mount).
    setTimeout(() => ensureSpare(root), 300).unref()
  } else print(a, server.record)
  await server.closed
  repo.close()
  return 0
}

interface ReadyMessage {
  ok: boolean
  record?: MountRecord
  error?: {code: string; message: string; hint?: string; data?: Record<string, unknown>}
}

function waitReady(child: ChildProcess, logPath: string, timeoutMs: number, onProgress?: OnTransferProgress): Promise<ReadyMessage> {
  return new Promise((resolveMsg, reject) => {
    let buf = ''
    let done = false
    const finish = (fn: () => void): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      fn()
    }
    const pipe = child.stdio[3] as NodeJS.ReadableStream
    pipe.setEncoding('utf8')
    pipe.on('data', (d: string) => {
      buf += d
      for (let nl = buf.indexOf('\n'); nl >= 0 && !done; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        let m: ReadyMessage & Partial<ProgressLine>
        try {
          m = JSON.parse(line)
        } catch (err) {
          finish(() => reject(err))
          return
        }
        if (m.progress) onProgress?.(m.progress)
        else finish(() => resolveMsg(m))
      }
    })
    pipe.on('error', () => undefined)
    child.on('exit', (code, signal) => {
      // The pipe may still hold the message: give it a moment.
      setTimeout(() => finish(() => reject(serverDied(logPath, code, signal))), 50)
    })
    const timer = setTimeout(() => finish(() => reject(new VeloError('ERR_VELO_MOUNT', `the mount server did not answer within ${timeoutMs / 1000} s`, {hint: `see its log: ${logPath}`}))), timeoutMs)
  })
}

function serverDied(logPath: string, code: number | null, signal: NodeJS.Signals | null): VeloError {
  let tail = ''
  try {
    tail = readFileSync(logPath, 'utf8').trim().split('\n').slice(-3).join(' | ')
  } catch {
    // no log
  }
  return new VeloError('ERR_VELO_MOUNT', `the mount server exited before the mount was ready (${signal ?? `exit code ${code}`})${tail ? `: ${tail}` : ''}`, {
    hint: `see its log: ${logPath}`,
  })
}

/** Starts a detached server and waits until the mount answers. */
async function launch(a: CheckoutArgs): Promise<number> {
  // A progress view only when the server reports some (a remote checkout pulling metadata): a
  // local checkout answers in a fraction of a second and loads nothing for it.
  let view: Promise<{reporter: ProgressReporter; show: (p: TransferProgress) => void}> | undefined
  const onProgress = (p: TransferProgress): void => {
    view ??= Promise.all([import('../ui/createProgress.js'), import('../remote/progress.js')]).then(([{createProgress}, {transferUpdate}]) => {
      const reporter = createProgress({command: 'checkout', json: a.json, quiet: a.quiet})
      return {reporter, show: (x: TransferProgress) => reporter.update(transferUpdate(x))}
    })
    void view.then((v) => v.show(p))
  }
  let rec: MountRecord
  try {
    rec = await launchMount(a, onProgress)
  } catch (err) {
    await (await view)?.reporter.done(false)
    throw err
  }
  await (await view)?.reporter.done(true)
  print(a, rec)
  return 0
}

/** Starts a detached server, waits until the mount answers and returns its record (also used by velo deps). */
export async function launchMount(a: Pick<CheckoutArgs, 'rev' | 'mountpoint' | 'upper' | 'readOnly' | 'repo' | 'remote'>, onProgress?: OnTransferProgress): Promise<MountRecord> {
  const root = repoRoot(a.repo)
  if (!existsSync(join(root, 'velo.json'))) {
    const {Repository} = await import('../repo/Repository.js')
    Repository.open(a.repo).close() // throws the repository's own error
  }
  const id = newId()
  const dir = join(root, 'mounts', id)
  mkdirSync(dir, {recursive: true})
  const logPath = join(dir, 'serve.log')
  // A spare server already waiting (spareClient.ts) takes two process starts off the latency.
  const upper = a.upper === undefined ? undefined : resolve(a.upper)
  const viaSpare = await checkoutViaSpare(root, {rev: a.rev, mountpoint: resolve(a.mountpoint), upper, readOnly: a.readOnly, remote: a.remote, id}, READY_TIMEOUT_MS, logPath, onProgress)
  if (viaSpare) return readyRecord(viaSpare, dir)
  const logFd = openSync(logPath, 'a', 0o644)
  const args = [BIN, 'checkout', a.rev, resolve(a.mountpoint), '--foreground', '--ready-fd', '3', '--mount-id', id, '--repo', root]
  if (a.upper !== undefined) args.push('--upper', resolve(a.upper))
  if (a.readOnly) args.push('--read-only')
  if (a.remote !== undefined) args.push('--remote', a.remote)
  let child: ChildProcess
  try {
    child = spawn(process.execPath, args, {detached: true, stdio: ['ignore', logFd, logFd, 'pipe'], cwd: '/'})
  } finally {
    closeSync(logFd)
  }
  let msg: ReadyMessage
  try {
    msg = await waitReady(child, logPath, READY_TIMEOUT_MS, onProgress)
  } catch (err) {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
      const {mountInfo, detach, canonicalMountpoint} = await import('../mount/registry.js')
      const mnt = canonicalMountpoint(a.mountpoint)
      if (mountInfo(mnt)) detach(mnt)
    }
    throw err
  }
  ;(child.stdio[3] as NodeJS.ReadableStream & {destroy(): void}).destroy()
  child.unref()
  return readyRecord(msg, dir)
}

/** The record of a mount that is ready, or the server's error (its directory removed). */
function readyRecord(msg: ReadyMessage, dir: string): MountRecord {
  if (!msg.ok || !msg.record) {
    rmSync(dir, {recursive: true, force: true})
    const e = msg.error
    throw new VeloError((e?.code ?? 'ERR_VELO_MOUNT') as VeloError['code'], e?.message ?? 'the mount failed', {hint: e?.hint, data: e?.data})
  }
  return msg.record
}

export async function runCheckout(a: CheckoutArgs): Promise<number> {
  if (a.foreground || a.readyFd !== undefined) return serveHere(a)
  return launch(a)
}

/** Parses argv (after "checkout"); undefined means "let oclif handle it". */
export function parseCheckoutArgv(argv: string[]): CheckoutArgs | undefined {
  try {
    const {values, positionals} = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        repo: {type: 'string'},
        upper: {type: 'string'},
        'read-only': {type: 'boolean'},
        remote: {type: 'string'},
        foreground: {type: 'boolean'},
        json: {type: 'boolean'},
        quiet: {type: 'boolean', short: 'q'},
        'ready-fd': {type: 'string'},
        'mount-id': {type: 'string'},
      },
    })
    if (positionals.length !== 2) return undefined
    const readyFd = values['ready-fd'] === undefined ? undefined : Number(values['ready-fd'])
    if (readyFd !== undefined && !Number.isInteger(readyFd)) return undefined
    return {
      rev: positionals[0],
      mountpoint: positionals[1],
      upper: values.upper,
      readOnly: values['read-only'] ?? false,
      remote: values.remote,
      foreground: values.foreground ?? false,
      json: values.json ?? false,
      quiet: values.quiet ?? false,
      repo: values.repo ?? process.env.VELO_REPO,
      readyFd,
      id: values['mount-id'],
    }
  } catch {
    return undefined
  }
}

export async function fastCheckout(argv: string[]): Promise<boolean> {
  if (argv.length === 1 && argv[0] === '--spare-server') {
    // Internal: a spare mount server for the repository of VELO_REPO (spareServer.ts).
    await (await import('../mount/spareServer.js')).runSpareServer()
    process.exit(0)
  }
  const a = parseCheckoutArgv(argv)
  if (!a) return false
  const serving = a.foreground || a.readyFd !== undefined
  try {
    process.exitCode = await runCheckout(a)
    // fuse-native's native handles can keep the event loop alive after the unmount.
    if (serving) process.exit(process.exitCode)
  } catch (err) {
    if (a.readyFd !== undefined) {
      // Report to the launcher, which prints it; the log gets it too.
      const {normalizeError} = await import('./output.js')
      const e = normalizeError(err)
      try {
        writeSync(a.readyFd, JSON.stringify({ok: false, error: e.toJSON()}) + '\n')
      } catch {
        // the launcher is gone
      }
      process.stderr.write(`velo: error: ${e.message}\n`)
      process.exitCode = e.exitCode
    } else process.exitCode = reportError(err, a.json)
    if (serving) process.exit(process.exitCode)
  }
  return true
}
