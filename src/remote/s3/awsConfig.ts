/**
 * Where an S3 remote's endpoint, region, addressing style and credentials come from, in order:
 *   endpoint:   the remote's --endpoint, $VELO_S3_ENDPOINT, $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL,
 *               `endpoint_url` of the profile in ~/.aws/config, else AWS (https://s3.REGION.amazonaws.com)
 *   region:     the remote's --region, $AWS_REGION, $AWS_DEFAULT_REGION, `region` of the profile, us-east-1
 *   path style: the remote's --path-style, $VELO_S3_PATH_STYLE (1/0), `s3.addressing_style` of the
 *               profile (path/virtual), else path style for custom endpoints, virtual hosts on AWS
 *   credentials: $AWS_ACCESS_KEY_ID + $AWS_SECRET_ACCESS_KEY (+ $AWS_SESSION_TOKEN), else the profile
 *               in ~/.aws/credentials, else the profile in ~/.aws/config
 * The profile is the repository setting remote.profile, else $AWS_PROFILE (or $AWS_DEFAULT_PROFILE),
 * else "default"; the files are $AWS_CONFIG_FILE and $AWS_SHARED_CREDENTIALS_FILE when set. The
 * setting remote.credentials restricts where credentials come from: auto (both, in that order),
 * env (variables only) or profile (files only). Credentials are never stored by velo.
 */
import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

export interface S3RemoteOptions {
  endpoint?: string
  region?: string
  pathStyle?: boolean
  /** Where credentials may come from (the remote.credentials setting). */
  credentials?: 'auto' | 'env' | 'profile'
  /** AWS profile (the remote.profile setting); empty: $AWS_PROFILE, else "default". */
  profile?: string
}

export interface S3Credentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

export interface S3Settings {
  endpoint: string
  region: string
  pathStyle: boolean
  credentials?: S3Credentials
  /** Where the credentials came from, for messages ("environment", "profile default in ~/.aws/credentials"). */
  credentialSource?: string
}

type Ini = Map<string, Map<string, string>>

/** Parses an AWS-style INI file; nested keys (`s3 =` followed by indented lines) become "s3.key". */
export function parseIni(text: string): Ini {
  const out: Ini = new Map()
  let section: Map<string, string> | undefined
  let parent: string | undefined
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s[#;].*$/, '')
    if (/^\s*([#;].*)?$/.test(line)) continue
    const sec = /^\s*\[([^\]]+)\]\s*$/.exec(line)
    if (sec) {
      section = new Map()
      out.set(sec[1].trim(), section)
      parent = undefined
      continue
    }
    const kv = /^(\s*)([^=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line)
    if (!kv || !section) continue
    const nested = kv[1].length > 0 && parent !== undefined
    if (!nested && kv[3] === '') {
      parent = kv[2]
      continue
    }
    if (!nested) parent = undefined
    section.set(nested ? `${parent}.${kv[2]}` : kv[2], kv[3])
  }
  return out
}

function readIni(path: string): Ini {
  try {
    return parseIni(readFileSync(path, 'utf8'))
  } catch {
    return new Map()
  }
}

export function resolveS3Settings(o: S3RemoteOptions = {}, env: NodeJS.ProcessEnv = process.env): S3Settings {
  const home = env.HOME ?? homedir()
  const profile = o.profile || env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || 'default'
  const mode = o.credentials ?? 'auto'
  const configPath = env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config')
  const credsPath = env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials')
  const config = readIni(configPath)
  const conf = config.get(profile === 'default' ? 'default' : `profile ${profile}`) ?? config.get(profile) ?? new Map<string, string>()

  const region = o.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? conf.get('region') ?? 'us-east-1'
  const custom = o.endpoint ?? env.VELO_S3_ENDPOINT ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? conf.get('s3.endpoint_url') ?? conf.get('endpoint_url')
  const endpoint = (custom ?? `https://s3.${region}.amazonaws.com`).replace(/\/+$/, '')
  let pathStyle: boolean
  if (o.pathStyle !== undefined) pathStyle = o.pathStyle
  else if (env.VELO_S3_PATH_STYLE === '1' || env.VELO_S3_PATH_STYLE === '0') pathStyle = env.VELO_S3_PATH_STYLE === '1'
  else if (conf.get('s3.addressing_style') === 'path') pathStyle = true
  else if (conf.get('s3.addressing_style') === 'virtual') pathStyle = false
  else pathStyle = custom !== undefined

  let credentials: S3Credentials | undefined
  let credentialSource: string | undefined
  if (mode !== 'profile' && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    credentials = {accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined}
    credentialSource = 'the environment (AWS_ACCESS_KEY_ID)'
  } else if (mode !== 'env') {
    const fromFile = (ini: Ini, name: string, path: string): boolean => {
      const s = ini.get(name)
      const id = s?.get('aws_access_key_id')
      const secret = s?.get('aws_secret_access_key')
      if (!id || !secret) return false
      credentials = {accessKeyId: id, secretAccessKey: secret, sessionToken: s?.get('aws_session_token') || undefined}
      credentialSource = `profile ${profile} in ${path}`
      return true
    }
    if (!fromFile(readIni(credsPath), profile, credsPath)) {
      fromFile(config, profile === 'default' ? 'default' : `profile ${profile}`, configPath)
    }
  }
  return {endpoint, region, pathStyle, credentials, credentialSource}
}
