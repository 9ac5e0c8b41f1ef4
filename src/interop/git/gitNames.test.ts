import {describe, expect, it} from 'vitest'
import {formatPerson, isDotGitName, isValidGitBranch, parsePerson, refSegment} from './gitNames.js'

describe('git names', () => {
  it('formats and parses identities like git headers', () => {
    const p = {name: 'Ada', email: 'ada@x', timestamp: 1700000000, timezoneOffset: -90}
    expect(formatPerson(p)).toBe('Ada <ada@x> 1700000000 +0130')
    expect(parsePerson('Ada <ada@x> 1700000000 +0130')).toEqual(p)
    expect(formatPerson({...p, timezoneOffset: 300})).toBe('Ada <ada@x> 1700000000 -0500')
    expect(formatPerson({...p, timezoneOffset: 0})).toBe('Ada <ada@x> 1700000000 +0000')
    expect(parsePerson('garbage')).toBeUndefined()
  })
  it('knows the names git refuses', () => {
    for (const n of ['.git', '.GIT', '.git.', 'git~1', '.g\u200cit']) expect(isDotGitName(n), n).toBe(true)
    for (const n of ['.gitignore', 'git', '.github']) expect(isDotGitName(n), n).toBe(false)
  })
  it('checks branch names and makes ref segments', () => {
    for (const b of ['main', 'app/deps', 'v1.2', 'a-b_c']) expect(isValidGitBranch(b), b).toBe(true)
    for (const b of ['', 'a..b', 'a/', '.x', 'x.lock', 'a b', 'a:b', '@', 'a@{1}']) expect(isValidGitBranch(b), b).toBe(false)
    expect(refSegment('feature#12')).toBe('feature-12')
    expect(refSegment('.hidden')).toBe('hidden')
    expect(refSegment('x.lock')).toBe('x-lock')
  })
})
