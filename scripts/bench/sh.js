// Small process helpers shared by the benchmark modules (plain Node, no dependencies).
import {spawnSync} from 'node:child_process'

/** Quotes a string for bash. */
export function q(s) {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`
}

/** Runs a bash command untimed; throws with its stderr when it fails. Returns stdout. */
export function sh(cmd, {env = process.env, allowFail = false, input} = {}) {
  const r = spawnSync('bash', ['-c', cmd], {env, encoding: 'utf8', maxBuffer: 1 << 30, input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']})
  if (r.error) throw r.error
  if (r.signal === 'SIGINT' || r.signal === 'SIGTERM' || r.status === 130 || r.status === 143) throw new Error(`interrupted: ${cmd}`, {cause: 'interrupted'})
  if (r.status !== 0 && !allowFail) {
    const out = `${r.stderr || ''}\n${r.stdout || ''}`.trim().split('\n').slice(-5).join('\n')
    throw new Error(`command failed (exit ${r.status}): ${cmd}\n${out}`)
  }
  return r.stdout
}

/** First line of a tool's version output, or 'missing'. */
export function versionOf(cmd) {
  try {
    return sh(`${cmd} 2>&1`).split('\n')[0].trim()
  } catch {
    return 'missing'
  }
}

/** Allocated and apparent bytes of one or more paths (du, as ../shared/bench does). */
export function sizeOf(...paths) {
  const ps = paths.map(q).join(' ')
  const sum = (out) => out.trim().split('\n').filter(Boolean).reduce((a, l) => a + Number(l.split('\t')[0]), 0)
  return {
    disk: sum(sh(`du -s -B1 ${ps}`)),
    apparent: sum(sh(`du -s --apparent-size -B1 ${ps}`)),
  }
}

export const MiB = 1 << 20

export function median(xs) {
  const a = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y)
  if (a.length === 0) return undefined
  const m = a.length >> 1
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2
}

export function log(msg) {
  const t = new Date().toTimeString().slice(0, 8)
  process.stderr.write(`[${t}] ${msg}\n`)
}
