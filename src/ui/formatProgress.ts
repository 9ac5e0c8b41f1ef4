/** Text of a progress event, shared by the plain lines and the ink view. */
import {humanBytes} from '../cli/output.js'
import type {ProgressEvent} from './ProgressEvent.js'

export function formatCount(n: number): string {
  return n.toLocaleString('en-US')
}

/** 7s, 2m05s, 1h02m. */
export function formatSeconds(s: number): string {
  s = Math.max(0, Math.round(s))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** Fraction done in [0, 1], from bytes when their total is known, else from items; undefined without totals. */
export function fractionDone(e: ProgressEvent): number | undefined {
  if (e.totalBytes !== null && e.totalBytes > 0) return Math.min(1, e.bytes / e.totalBytes)
  if (e.total !== null && e.total > 0) return Math.min(1, e.done / e.total)
  if ((e.totalBytes === 0 || e.total === 0)) return 1
  return undefined
}

/** The parts after the phase: counts, bytes, rate, ETA. */
export function progressParts(e: ProgressEvent): string[] {
  const parts: string[] = []
  if (e.done > 0 || e.total !== null) parts.push(`${formatCount(e.done)}${e.total !== null ? `/${formatCount(e.total)}` : ''} ${e.unit}`)
  if (e.bytes > 0 || e.totalBytes !== null) parts.push(`${humanBytes(e.bytes)}${e.totalBytes !== null ? `/${humanBytes(e.totalBytes)}` : ''}`)
  if (e.rate > 0) parts.push(`${humanBytes(e.rate)}/s`)
  else if (e.itemRate > 0) parts.push(`${formatCount(Math.round(e.itemRate))} ${e.unit}/s`)
  if (e.eta !== null) parts.push(`ETA ${formatSeconds(e.eta)}`)
  return parts
}

/** One line: `snapshot: hash 120/500 files (24%), 1.0 MiB/5.0 MiB, 512.0 KiB/s, ETA 8s`. */
export function formatProgressLine(e: ProgressEvent): string {
  const f = fractionDone(e)
  const parts = progressParts(e)
  if (f !== undefined && parts.length > 0) parts[0] += ` (${Math.floor(f * 100)}%)`
  return `${e.command}: ${e.phase}${parts.length ? ' ' + parts.join(', ') : ''}`
}

export function progressBar(f: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, f)) * width)
  return '█'.repeat(filled) + '░'.repeat(width - filled)
}
