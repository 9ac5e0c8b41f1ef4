import type {RunView} from '../api/showRun.js'
import {humanBytes} from './output.js'

function quote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`
}

/** The human view of `velo show RUN`. */
export function renderRunView(v: RunView, maxTrace = 20): string {
  const r = v.record
  const lines = [`run      ${v.id}${v.refs.length ? ` (${v.refs.join(', ')})` : ''}`]
  lines.push(`command  ${r.argv.map(quote).join(' ')}`)
  lines.push(`cwd      ${r.cwd === '' ? '.' : r.cwd}`)
  lines.push(`status   ${r.interrupted ? 'interrupted, ' : ''}${r.signal ? `killed by ${r.signal}` : `exit ${r.exitCode}`}`)
  lines.push(`time     ${new Date(r.start).toISOString()}, ${(r.duration / 1000).toFixed(2)} s`)
  lines.push(`by       ${r.user}@${r.host} (velo ${r.velo}, ${r.mode})`)
  lines.push(`input    ${r.input}`)
  lines.push(`output   ${r.output}`)
  if (r.previous) lines.push(`previous ${r.previous}`)
  lines.push(`stdout   ${r.stdout.id} (${humanBytes(r.stdout.size)})`)
  lines.push(`stderr   ${r.stderr.id} (${humanBytes(r.stderr.size)})`)
  for (const [k, val] of Object.entries(r.env)) lines.push(`env      ${k}=${val}`)
  if (v.signature) lines.push(`signed   ${v.signature.fingerprint} (${v.signature.valid ? 'valid' : 'INVALID'})`)
  if (r.trace) {
    lines.push(`accessed ${r.trace.count} files${r.trace.count > maxTrace ? ` (first ${maxTrace})` : ''}`)
    for (const p of v.trace.slice(0, maxTrace)) lines.push(`         ${p}`)
  }
  return lines.join('\n')
}
