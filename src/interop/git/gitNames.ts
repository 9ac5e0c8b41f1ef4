/** Names across velo and git: ref names, identities, and entries git refuses. */
import {VeloError} from '../../util/errors.js'

/** A valid velo ref segment made from any text (git branch names may hold characters velo refs do not). */
export function refSegment(s: string): string {
  let out = s.replace(/[^A-Za-z0-9._+@=-]/g, '-').replace(/\.\.+/g, '.').replace(/^[.\-+@=]+/, '').replace(/\.+$/, '')
  if (out.endsWith('.lock')) out = `${out.slice(0, -5)}-lock`
  return out === '' ? 'x' : out
}

/** git check-ref-format rules for a branch name (refs/heads/NAME). */
export function isValidGitBranch(name: string): boolean {
  if (name === '' || name === '@' || name.endsWith('/') || name.endsWith('.') || name.includes('..') || name.includes('@{') || name.includes('//')) return false
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false
  return name.split('/').every((s) => s !== '' && !s.startsWith('.') && !s.endsWith('.lock'))
}

export function assertGitBranch(name: string): void {
  if (!isValidGitBranch(name)) {
    throw new VeloError('ERR_VELO_BAD_REF_NAME', `bad git branch name ${JSON.stringify(name)}`, {hint: 'see git check-ref-format; e.g. --branch velo/deps'})
  }
}

/** Code points HFS+ ignores in names (git's is_hfs_dotgit). */
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g

/** True for names git refuses to check out as `.git` on some filesystem (git's fsck hasDotgit). */
export function isDotGitName(name: string): boolean {
  const n = name.replace(HFS_IGNORED, '').toLowerCase()
  return /^\.git[. ]*$/.test(n) || /^git~1[. ]*$/.test(n) || n.startsWith('.git::$')
}

/** Names whose entry git's fsck rejects when it is a symlink. */
export const NO_SYMLINK_NAMES = new Set(['.gitmodules', '.gitattributes', '.gitignore', '.mailmap'])

export interface GitPerson {
  name: string
  email: string
  timestamp: number
  /** Minutes, sign as in Date.getTimezoneOffset (−120 for +0200), as isomorphic-git has it. */
  timezoneOffset: number
}

/** "Name <email> 1700000000 +0200", as in git's commit headers. */
export function formatPerson(p: GitPerson): string {
  const off = -p.timezoneOffset
  const sign = off < 0 ? '-' : '+'
  const abs = Math.abs(off)
  const tz = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`
  return `${p.name} <${p.email}> ${p.timestamp} ${tz}`
}

export function parsePerson(s: string | undefined): GitPerson | undefined {
  const m = s === undefined ? null : /^(.*) <([^<>]*)> (\d+) ([+-])(\d\d)(\d\d)$/.exec(s)
  if (!m) return undefined
  const minutes = Number(m[5]) * 60 + Number(m[6])
  return {name: m[1], email: m[2], timestamp: Number(m[3]), timezoneOffset: m[4] === '-' ? minutes : -minutes}
}

/** Text safe as a git identity part (no angle brackets or newlines). */
export function identityText(s: string): string {
  return s.replace(/[<>\n\r\0]/g, '').trim()
}
