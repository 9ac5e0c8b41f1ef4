/**
 * The repository's signing key (`velo key generate`): an Ed25519 key pair in PEM files, the private
 * one mode 0600, by default `<repo>/keys/ed25519` and `<repo>/keys/ed25519.pub`. Its path is the
 * `signingKey` entry of the repository config (velo.json; relative paths are relative to the
 * repository); $VELO_SIGNING_KEY overrides it. `trustedKeys` in velo.json (base64 raw public keys)
 * lists other signers `velo verify` accepts besides this key.
 */
import {createPublicKey} from 'node:crypto'
import {chmodSync, existsSync, readFileSync} from 'node:fs'
import {dirname, isAbsolute, join, relative, resolve} from 'node:path'
import {acquireLock} from '../refs/lockFile.js'
import {REPO_MARKER, type Repository} from '../repo/Repository.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {atomicWrite, mkdirp} from '../util/fsx.js'
import {generateKeyPair, keyFingerprint, parsePrivateKey, rawPublicKey, type SigningKey} from './ed25519.js'

export const DEFAULT_KEY_PATH = 'keys/ed25519'

export interface GeneratedKey {
  privateKeyPath: string
  publicKeyPath: string
  /** Base64 of the raw public key (what signatures carry). */
  publicKey: string
  fingerprint: string
}

/** Reads velo.json, applies `change` and writes it back atomically, under a lock. */
export function updateRepoConfig(repo: Repository, change: (config: Record<string, unknown>) => void): void {
  const path = join(repo.root, REPO_MARKER)
  mkdirp(join(repo.root, 'locks'))
  const lock = acquireLock(join(repo.root, 'locks', `${REPO_MARKER}.lock`), {command: 'key generate', what: 'repository config: lock'})
  try {
    const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    change(config)
    atomicWrite(path, JSON.stringify(config, null, 2) + '\n')
  } finally {
    lock.release()
  }
}

function configuredPath(repo: Repository): {path: string; from: string} | undefined {
  const env = process.env.VELO_SIGNING_KEY
  if (env) return {path: resolve(env), from: '$VELO_SIGNING_KEY'}
  // Read the file again: another command may have changed it since the repository was opened.
  let config: Record<string, unknown>
  try {
    config = JSON.parse(readFileSync(join(repo.root, REPO_MARKER), 'utf8')) as Record<string, unknown>
  } catch {
    config = repo.config
  }
  const p = config.signingKey
  if (typeof p !== 'string' || p === '') return undefined
  return {path: isAbsolute(p) ? p : join(repo.root, p), from: `signingKey in ${join(repo.root, REPO_MARKER)}`}
}

export function generateSigningKey(repo: Repository, o: {out?: string; force?: boolean} = {}): GeneratedKey {
  const priv = o.out ? resolve(o.out) : join(repo.root, DEFAULT_KEY_PATH)
  const pub = `${priv}.pub`
  if (!o.force && (existsSync(priv) || existsSync(pub))) {
    throw new VeloError('ERR_VELO_TARGET_NOT_EMPTY', `a key already exists at ${priv}`, {
      hint: 'pass --force to replace it (what it signed stays verifiable by its public key), or --out PATH for another file',
    })
  }
  mkdirp(dirname(priv))
  if (!o.out) chmodSync(dirname(priv), 0o700)
  const pair = generateKeyPair()
  atomicWrite(priv, pair.privateKey, {mode: 0o600})
  try {
    chmodSync(priv, 0o600)
  } catch (err) {
    throw fsError(err, priv, 'protecting')
  }
  atomicWrite(pub, pair.publicKey, {mode: 0o644})
  const rel = relative(repo.root, priv)
  updateRepoConfig(repo, (c) => {
    c.signingKey = rel.startsWith('..') || isAbsolute(rel) ? priv : rel
  })
  const key = parsePrivateKey(pair.privateKey, priv)
  return {privateKeyPath: priv, publicKeyPath: pub, publicKey: key.publicKey, fingerprint: keyFingerprint(key.publicKey)}
}

/** The signing key, for --sign. */
export function loadSigningKey(repo: Repository): SigningKey {
  const where = configuredPath(repo)
  if (!where) {
    throw new VeloError('ERR_VELO_NOT_FOUND', 'this repository has no signing key', {hint: 'create one with velo key generate (or set VELO_SIGNING_KEY to a PEM Ed25519 private key)'})
  }
  let pem: string
  try {
    pem = readFileSync(where.path, 'utf8')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      throw new VeloError('ERR_VELO_NOT_FOUND', `the signing key ${where.path} (${where.from}) does not exist`, {hint: 'create one with velo key generate'})
    }
    throw fsError(err, where.path, 'reading')
  }
  try {
    return parsePrivateKey(pem, where.path)
  } catch (err) {
    throw new VeloError('ERR_VELO_USAGE', `${where.path} is not an Ed25519 private key: ${(err as Error).message}`, {hint: 'create one with velo key generate'})
  }
}

/** Public keys whose signatures count as trusted: the repository's own key and `trustedKeys`. */
export function trustedKeys(repo: Repository): Set<string> {
  const out = new Set<string>()
  try {
    out.add(loadSigningKey(repo).publicKey)
  } catch {
    // No key of our own, or its private half is not readable here: its public half will do.
    const where = configuredPath(repo)
    try {
      if (where) out.add(rawPublicKey(createPublicKey(readFileSync(`${where.path}.pub`, 'utf8'))))
    } catch {
      /* none */
    }
  }
  let config: Record<string, unknown> = repo.config
  try {
    config = JSON.parse(readFileSync(join(repo.root, REPO_MARKER), 'utf8')) as Record<string, unknown>
  } catch {
    /* keep the one read at open */
  }
  if (Array.isArray(config.trustedKeys)) for (const k of config.trustedKeys) if (typeof k === 'string') out.add(k)
  return out
}
