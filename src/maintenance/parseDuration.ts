/**
 * Durations for maintenance flags: `now` (0), `never` (Infinity), or a number with a unit:
 * ms, s, m (minutes), h, d, w, e.g. `2w`, `90d`, `30m`, `1.5h`. A bare number is seconds.
 */
import {VeloError} from '../util/errors.js'

const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000}

export function parseDuration(text: string, flag = 'duration'): number {
  const t = text.trim().toLowerCase()
  if (t === 'now' || t === '0') return 0
  if (t === 'never' || t === 'forever') return Infinity
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(t)
  if (!m) {
    throw new VeloError('ERR_VELO_USAGE', `${flag}: cannot read ${JSON.stringify(text)} as a duration`, {
      hint: 'use now, never, or a number with a unit: 30s, 10m, 2h, 14d, 2w',
    })
  }
  return Number(m[1]) * UNIT_MS[m[2] ?? 's']
}

export function formatDuration(ms: number): string {
  if (ms === Infinity) return 'never'
  if (ms === 0) return 'now'
  for (const [u, f] of [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`
  }
  return `${ms}ms`
}
