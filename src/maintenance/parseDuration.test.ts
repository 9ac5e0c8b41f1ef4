import {describe, expect, it} from 'vitest'
import {formatDuration, parseDuration} from './parseDuration.js'

describe('parseDuration', () => {
  it('reads now, never and numbers with units', () => {
    expect(parseDuration('now')).toBe(0)
    expect(parseDuration('never')).toBe(Infinity)
    expect(parseDuration('2w')).toBe(14 * 86_400_000)
    expect(parseDuration('90d')).toBe(90 * 86_400_000)
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration('30m')).toBe(1_800_000)
    expect(parseDuration('45')).toBe(45_000)
    expect(parseDuration('250ms')).toBe(250)
  })

  it('rejects anything else with a usage error', () => {
    for (const bad of ['', '2 weeks', '-1d', 'd', '1y']) {
      expect(() => parseDuration(bad, '--prune')).toThrow(expect.objectContaining({code: 'ERR_VELO_USAGE'}))
    }
  })

  it('formats back', () => {
    expect(formatDuration(14 * 86_400_000)).toBe('2w')
    expect(formatDuration(0)).toBe('now')
    expect(formatDuration(Infinity)).toBe('never')
    expect(formatDuration(90_000)).toBe('90s')
  })
})
