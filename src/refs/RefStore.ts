/**
 * Refs: named pointers to snapshots (or run records), one file per ref under refs/, changed only
 * under a lock with compare-and-swap, every move appended to the ref's reflog under logs/.
 * Remote-tracking refs live under refs/remotes/<remote>/.
 */
import {appendFileSync, closeSync, fstatSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, unlinkSync} from 'node:fs'
import {hostname, userInfo} from 'node:os'
import {dirname, join} from 'node:path'
import {type Oid, isOid} from '../objects/oid.js'
import {VeloError, fsError, isErrno} from '../util/errors.js'
import {atomicWrite, mkdirp} from '../util/fsx.js'
import {acquireLock} from './lockFile.js'

const segmentRe = /^[A-Za-z0-9_][A-Za-z0-9._+@=-]*$/

export function isValidRefName(name: string): boolean {
  if (name.length === 0 || name.length > 200) return false
  return name.split('/').every((s) => segmentRe.test(s) && !s.endsWith('.lock') && !s.endsWith('.') && !s.includes('..'))
}

export function assertRefName(name: string): void {
  if (!isValidRefName(name)) {
    throw new VeloError('ERR_VELO_BAD_REF_NAME', `bad ref name ${JSON.stringify(name)}`, {
      hint: 'use letters, digits and . _ - + @ = in segments separated by /, e.g. app/deps',
    })
  }
}

export interface ReflogEntry {
  old: Oid | null
  new: Oid | null
  time: string
  user: string
  host: string
  command: string
  message?: string
}

export interface RefUpdate {
  to: Oid | null
  /** Compare-and-swap: the value the ref must have now (null: must not exist). Undefined: any. */
  expect?: Oid | null
  command: string
  message?: string
  onWarning?: (msg: string) => void
}

export class RefStore {
  readonly refsDir: string
  readonly logsDir: string

  constructor(readonly root: string) {
    this.refsDir = join(root, 'refs')
    this.logsDir = join(root, 'logs')
  }

  private path(name: string): string {
    return join(this.refsDir, name)
  }

  read(name: string): Oid | undefined {
    if (!isValidRefName(name)) return undefined
    let text: string
    try {
      text = readFileSync(this.path(name), 'utf8')
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined
      throw err
    }
    const oid = text.trim()
    if (!isOid(oid)) {
      throw new VeloError('ERR_VELO_CORRUPT', `ref ${name} is damaged (${JSON.stringify(text.slice(0, 40))})`, {
        hint: `set it again with velo ref set ${name} REV, or delete it with velo ref delete ${name}`,
      })
    }
    return oid
  }

  list(prefix = ''): {name: string; oid: Oid}[] {
    const out: {name: string; oid: Oid}[] = []
    const walk = (dir: string, rel: string): void => {
      let names: string[]
      try {
        names = readdirSync(dir)
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return
        throw err
      }
      for (const n of names.sort()) {
        if (n.endsWith('.lock') || n.startsWith('.')) continue
        const p = join(dir, n)
        const r = rel ? `${rel}/${n}` : n
        if (statSync(p).isDirectory()) walk(p, r)
        else {
          const oid = this.read(r)
          if (oid) out.push({name: r, oid})
        }
      }
    }
    walk(this.refsDir, '')
    return out.filter((r) => r.name.startsWith(prefix))
  }

  update(name: string, u: RefUpdate): void {
    assertRefName(name)
    const p = this.path(name)
    this.assertNoPrefixConflict(name)
    mkdirp(dirname(p))
    const lock = acquireLock(`${p}.lock`, {command: u.command, onWarning: u.onWarning, what: `ref ${name}: lock`})
    try {
      const cur = this.read(name) ?? null
      if (u.expect !== undefined && cur !== u.expect) {
        throw new VeloError('ERR_VELO_REF_CONFLICT', `ref ${name} moved to ${cur ?? '(nothing)'} while this command ran (expected ${u.expect ?? '(nothing)'})`, {
          hint: 'another command updated it; look at velo log and run the command again',
          data: {ref: name, expected: u.expect, actual: cur},
        })
      }
      if (u.to === null) {
        try {
          unlinkSync(p)
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) throw fsError(err, p, 'deleting')
        }
      } else {
        atomicWrite(p, `${u.to}\n`)
      }
      this.appendLog(name, {old: cur, new: u.to, time: new Date().toISOString(), user: userName(), host: hostname(), command: u.command, message: u.message})
    } finally {
      lock.release()
    }
  }

  /** `a` and `a/b` cannot both be refs (one is a file, the other needs a directory there), as in git. */
  private assertNoPrefixConflict(name: string): void {
    const parts = name.split('/')
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      if (this.read(prefix)) {
        throw new VeloError('ERR_VELO_BAD_REF_NAME', `ref ${name} conflicts with the existing ref ${prefix}`, {
          hint: `choose another name, or delete ${prefix} first (velo ref delete ${prefix})`,
        })
      }
    }
    let isDir = false
    try {
      isDir = statSync(this.path(name)).isDirectory()
    } catch {
      /* no such path: fine */
    }
    if (isDir) {
      throw new VeloError('ERR_VELO_BAD_REF_NAME', `ref ${name} conflicts with existing refs below ${name}/`, {
        hint: 'choose another name (list refs with velo ref list)',
      })
    }
  }

  private appendLog(name: string, e: ReflogEntry): void {
    const p = join(this.logsDir, name)
    mkdirp(dirname(p))
    try {
      // A line torn by a crash must not swallow this entry: start on a line of its own.
      appendFileSync(p, (endsMidLine(p) ? '\n' : '') + JSON.stringify(e) + '\n')
    } catch (err) {
      throw fsError(err, p, 'appending to')
    }
  }

  readLog(name: string): ReflogEntry[] {
    let text: string
    try {
      text = readFileSync(join(this.logsDir, name), 'utf8')
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return []
      throw err
    }
    const out: ReflogEntry[] = []
    for (const line of text.split('\n')) {
      if (!line) continue
      try {
        out.push(JSON.parse(line) as ReflogEntry)
      } catch {
        /* a torn last line after a crash: the ref file itself is authoritative */
      }
    }
    return out
  }

  deleteLog(name: string): void {
    rmSync(join(this.logsDir, name), {force: true})
  }
}

function endsMidLine(path: string): boolean {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const size = fstatSync(fd).size
    if (size === 0) return false
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, size - 1)
    return b[0] !== 0x0a
  } catch {
    return false
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

export function userName(): string {
  try {
    return process.env.VELO_USER ?? userInfo().username
  } catch {
    return String(process.getuid?.() ?? 'unknown')
  }
}
