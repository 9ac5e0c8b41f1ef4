import {describe, expect, it} from 'vitest'
import {REDACTED} from '../objects/runRecord.js'
import {VeloError} from '../util/errors.js'
import {buildRunEnv, looksSecret, replayEnv} from './runEnv.js'

describe('run environment', () => {
  const from = {PATH: '/bin', HOME: '/home/a', EDITOR: 'vi', GITHUB_TOKEN: 'ghp_x', AWS_SECRET_ACCESS_KEY: 's3cr3t', CI: 'true'}

  it('keeps only the allow-list, plus --env names (from the environment) and NAME=VALUE', () => {
    const e = buildRunEnv(['CI', 'NODE_ENV=production', 'UNSET_ONE'], from)
    expect(e.actual).toEqual({PATH: '/bin', HOME: '/home/a', CI: 'true', NODE_ENV: 'production'})
    expect(e.recorded).toEqual(e.actual)
    expect(e.redacted).toEqual([])
  })

  it('gives secrets to the command but records them redacted', () => {
    const e = buildRunEnv(['GITHUB_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'DB_PASSWORD=pw'], from)
    expect(e.actual.GITHUB_TOKEN).toBe('ghp_x')
    expect(e.actual.DB_PASSWORD).toBe('pw')
    expect(e.recorded).toMatchObject({GITHUB_TOKEN: REDACTED, AWS_SECRET_ACCESS_KEY: REDACTED, DB_PASSWORD: REDACTED, PATH: '/bin'})
    expect(e.redacted).toEqual(['AWS_SECRET_ACCESS_KEY', 'DB_PASSWORD', 'GITHUB_TOKEN'])
  })

  it('tells secret names from ordinary ones', () => {
    for (const n of ['API_KEY', 'APIKEY', 'OPENAI_API_KEY', 'NPM_TOKEN', 'SESSION_ID', 'PGPASSWORD', 'GH_PAT', 'HTTP_AUTHORIZATION', 'AWS_ACCESS_KEY_ID', 'MY_CREDENTIALS', 'private_thing']) {
      expect(looksSecret(n), n).toBe(true)
    }
    for (const n of ['PATH', 'HOME', 'GIT_AUTHOR_NAME', 'KEYBOARD_LAYOUT', 'PWD', 'LANG', 'NODE_ENV']) expect(looksSecret(n), n).toBe(false)
  })

  it('rejects bad --env items', () => {
    for (const bad of ['', '=x', '1A', 'A-B=1']) expect(() => buildRunEnv([bad], from)).toThrow(VeloError)
  })

  it('replays with redacted values from the current environment, and says which are missing', () => {
    const rec = buildRunEnv(['GITHUB_TOKEN', 'DB_PASSWORD=pw'], from)
    const r = replayEnv(rec.recorded, rec.redacted, {GITHUB_TOKEN: 'other'})
    expect(r.env).toEqual({PATH: '/bin', HOME: '/home/a', GITHUB_TOKEN: 'other'})
    expect(r.missing).toEqual(['DB_PASSWORD'])
  })
})
