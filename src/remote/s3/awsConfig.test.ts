import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {parseIni, resolveS3Settings} from './awsConfig.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

/** A home directory without ~/.aws, so that the machine's own AWS files do not leak in. */
function home(): string {
  const d = mkdtempSync(join(tmpdir(), 'velo-aws-'))
  dirs.push(d)
  return d
}

describe('parseIni', () => {
  it('reads sections, comments and nested s3 settings', () => {
    const ini = parseIni('# c\n[default]\nregion = eu-west-1 ; note\ns3 =\n  addressing_style = path\n  endpoint_url = http://x\n[profile ci]\naws_access_key_id=AK\n')
    expect(ini.get('default')).toEqual(new Map([['region', 'eu-west-1'], ['s3.addressing_style', 'path'], ['s3.endpoint_url', 'http://x']]))
    expect(ini.get('profile ci')?.get('aws_access_key_id')).toBe('AK')
  })
})

describe('resolveS3Settings', () => {
  it('defaults to AWS with virtual hosts', () => {
    const s = resolveS3Settings({}, {HOME: home()})
    expect(s).toMatchObject({endpoint: 'https://s3.us-east-1.amazonaws.com', region: 'us-east-1', pathStyle: false})
    expect(s.credentials).toBeUndefined()
  })

  it('takes endpoint, region and keys from the environment; custom endpoints use path style', () => {
    const s = resolveS3Settings({}, {HOME: home(), VELO_S3_ENDPOINT: 'http://127.0.0.1:7480/', AWS_REGION: 'r1', AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK'})
    expect(s).toMatchObject({endpoint: 'http://127.0.0.1:7480', region: 'r1', pathStyle: true, credentials: {accessKeyId: 'AK', secretAccessKey: 'SK'}})
    expect(s.credentialSource).toMatch(/environment/)
  })

  it('lets the remote\'s own settings win, then the profile in the config files', () => {
    const h = home()
    writeFileSync(join(h, 'config'), '[profile ci]\nregion = eu-2\ns3 =\n  addressing_style = virtual\nendpoint_url = https://minio.example\n')
    writeFileSync(join(h, 'creds'), '[ci]\naws_access_key_id = FILEAK\naws_secret_access_key = FILESK\n')
    const env = {HOME: h, AWS_PROFILE: 'ci', AWS_CONFIG_FILE: join(h, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(h, 'creds')}
    expect(resolveS3Settings({}, env)).toMatchObject({endpoint: 'https://minio.example', region: 'eu-2', pathStyle: false, credentials: {accessKeyId: 'FILEAK'}})
    expect(resolveS3Settings({endpoint: 'http://e', region: 'x', pathStyle: true}, env)).toMatchObject({endpoint: 'http://e', region: 'x', pathStyle: true})
    expect(resolveS3Settings({}, {...env, VELO_S3_PATH_STYLE: '1'}).pathStyle).toBe(true)
  })

  it('follows the remote.credentials and remote.profile settings', () => {
    const h = home()
    writeFileSync(join(h, 'creds'), '[ci]\naws_access_key_id = FILEAK\naws_secret_access_key = FILESK\n')
    const env = {HOME: h, AWS_SHARED_CREDENTIALS_FILE: join(h, 'creds'), AWS_ACCESS_KEY_ID: 'ENVAK', AWS_SECRET_ACCESS_KEY: 'ENVSK'}
    expect(resolveS3Settings({profile: 'ci'}, env).credentials?.accessKeyId).toBe('ENVAK')
    expect(resolveS3Settings({profile: 'ci', credentials: 'profile'}, env).credentials?.accessKeyId).toBe('FILEAK')
    expect(resolveS3Settings({profile: 'ci', credentials: 'env'}, {HOME: h, AWS_SHARED_CREDENTIALS_FILE: join(h, 'creds')}).credentials).toBeUndefined()
  })
})
