/**
 * The spare mount server (`velo checkout --spare-server`, started by ensureSpare with VELO_REPO
 * set): loads what a mount needs, then waits on its socket (spareClient.ts) for one checkout. It
 * takes exactly one: on the first connection it stops listening, serves that mount until it is
 * unmounted and starts the next spare. A spare that waited VELO_MOUNT_SPARE_IDLE_MS (10 min) or
 * whose repository is gone exits.
 */
import {closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeSync} from 'node:fs'
import {createServer, type Socket} from 'node:net'
import {dirname, join} from 'node:path'
import {normalizeError} from '../cli/output.js'
import {Repository, defaultRepoPath} from '../repo/Repository.js'
import {loadFuse} from './fuse/fuseNative.js'
import {progressRelay} from './progressRelay.js'
import {mountDir} from './registry.js'
import {serveMount, type MountServer} from './serveMount.js'
import {buildStamp, ensureSpare, spareLockPath, spareOwner, spareSocketPath, type SpareArgs} from './spareClient.js'

const IDLE_MS = Number(process.env.VELO_MOUNT_SPARE_IDLE_MS) || 10 * 60_000

function say(m: string): void {
  process.stderr.write(`${new Date().toISOString()} spare ${process.pid}: ${m}\n`)
}

/** Takes the spare's pid file; false when a live spare holds it. */
function takeLock(lock: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = spareOwner(dirname(dirname(lock)))
    if (owner !== undefined && owner !== process.pid) return false
    try {
      unlinkSync(lock)
    } catch {
      // someone else removed it
    }
  }
  return false
}

function releaseLock(lock: string): void {
  try {
    if (readFileSync(lock, 'utf8') === String(process.pid)) unlinkSync(lock)
  } catch {
    // gone
  }
}

function readLine(c: Socket): Promise<string> {
  return new Promise((res, rej) => {
    let buf = ''
    c.setEncoding('utf8')
    const onData = (d: string): void => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl >= 0) {
        c.off('data', onData)
        res(buf.slice(0, nl))
      }
    }
    c.on('data', onData)
    c.on('close', () => rej(new Error('the launcher went away')))
    c.on('error', () => undefined)
  })
}

/** True when a pack this process has loaded was removed (gc, repack): then reopen everything. */
function packsReplaced(repo: Repository): boolean {
  let names: Set<string>
  try {
    names = new Set(readdirSync(repo.packsDir))
  } catch {
    return true
  }
  return repo.packs.packs.some((p) => !names.has(`${p.name}.idx`))
}

export async function runSpareServer(): Promise<void> {
  const root = defaultRepoPath()
  const sock = spareSocketPath(root)
  const stamp = buildStamp()
  await loadFuse()
  let repo = Repository.open(root)
  let configTime = statSync(join(root, 'velo.json')).mtimeMs
  const lock = spareLockPath(root)
  if (!takeLock(lock)) {
    repo.close()
    return
  }
  try {
    unlinkSync(sock) // left by a spare that died
  } catch {
    // none
  }
  const server = createServer()
  const listening = await new Promise<boolean>((res) => {
    server.once('error', (err) => {
      say(`cannot listen on ${sock}: ${err.message}`)
      res(false)
    })
    server.listen(sock, () => res(true))
  })
  if (!listening) {
    releaseLock(lock)
    repo.close()
    return
  }
  const ino = statSync(sock).ino
  const ours = (): boolean => {
    try {
      return statSync(sock).ino === ino
    } catch {
      return false
    }
  }
  const quit = (why: string): void => {
    say(`exiting: ${why}`)
    server.close()
    if (ours()) unlinkSync(sock)
    releaseLock(lock)
    process.exit(0)
  }
  const idle = setTimeout(() => quit('idle'), IDLE_MS)
  const watch = setInterval(() => {
    if (!existsSync(join(root, 'velo.json'))) quit('the repository is gone')
    else if (!ours()) quit('another spare took over the socket')
  }, 1000)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => quit(sig))
  say(`waiting on ${sock}`)

  // One job only: a launcher that connected at the same moment as the first is turned away at
  // once (it then starts a server of its own) instead of waiting for an answer that never comes.
  let taken = false
  server.on('connection', (s: Socket) => {
    if (taken) s.destroy()
    else taken = true
  })
  const c = await new Promise<Socket>((res) => server.once('connection', res))
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  clearTimeout(idle)
  clearInterval(watch)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(sig)
  server.close()
  if (ours()) unlinkSync(sock)
  releaseLock(lock)
  const clientGone = new Promise<void>((res) => c.on('close', () => res()))
  let gone = false
  void clientGone.then(() => (gone = true))
  c.write(JSON.stringify({pid: process.pid}) + '\n')
  let req: {stamp: string; args: SpareArgs; env: Record<string, string>}
  try {
    req = JSON.parse(await readLine(c))
  } catch (err) {
    say(`no request: ${(err as Error).message}`)
    process.exit(0)
  }
  if (req.stamp !== stamp) {
    c.end(JSON.stringify({retry: true}) + '\n')
    say('another velo build asked: exiting')
    setTimeout(() => process.exit(0), 100)
    return
  }
  // From here on this process is that mount's server, as if the launcher had started it.
  for (const k of Object.keys(process.env)) delete process.env[k]
  Object.assign(process.env, req.env)
  const a = req.args
  const dir = mountDir(root, a.id)
  mkdirSync(dir, {recursive: true})
  const logFd = openSync(join(dir, 'serve.log'), 'a', 0o644)
  const log = (m: string): void => void writeSync(logFd, `${new Date().toISOString()} ${m}\n`)
  log(`serving from spare process ${process.pid}`)
  let ms: MountServer
  try {
    const now = statSync(join(root, 'velo.json')).mtimeMs
    if (now !== configTime || packsReplaced(repo)) {
      repo.close()
      repo = Repository.open(root)
      configTime = now
    } else repo.packs.refresh()
    ms = await serveMount(repo, {rev: a.rev, mountpoint: a.mountpoint, upper: a.upper, readOnly: a.readOnly, remote: a.remote, id: a.id, log, onProgress: progressRelay((line) => void (gone || c.write(line)))})
  } catch (err) {
    const e = normalizeError(err)
    log(`velo: error: ${e.message}`)
    c.end(JSON.stringify({ok: false, error: e.toJSON()}) + '\n')
    setTimeout(() => process.exit(e.exitCode), 100)
    return
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void ms.stop())
  if (gone) {
    // The launcher gave up (timeout): it reported a failure, so nothing may stay mounted.
    log('the launcher went away before the mount was ready: unmounting')
    await ms.stop()
  } else {
    c.end(JSON.stringify({ok: true, record: ms.record}) + '\n')
    const cpu = process.cpuUsage(cpu0)
    log(`ready ${Math.round(performance.now() - t0)} ms after the launcher connected (${Math.round((cpu.user + cpu.system) / 1000)} ms CPU)`)
    // The next checkout finds a spare of its own (a little later, not to compete with the first
    // accesses to this mount).
    setTimeout(() => ensureSpare(root), 300).unref()
  }
  await ms.closed
  repo.close()
  closeSync(logFd)
  process.exit(0)
}
