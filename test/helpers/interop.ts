/**
 * Helpers for the interop tests (git, tar): building small trees, describing a tree on disk
 * (kinds, exec bits, symlink targets, contents) to compare two of them, running real CLIs, and
 * writing raw tar archives byte by byte (for archives no tar tool would write: hostile ones).
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

export type TreeSpec = {[name: string]: string | Buffer | TreeSpec | {symlink: string} | {exec: string}}

/** Creates files (string or Buffer), directories (objects), symlinks ({symlink}) and executables ({exec}). */
export function makeTree(root: string, spec: TreeSpec): void {
  mkdirSync(root, {recursive: true})
  for (const [name, v] of Object.entries(spec)) {
    const p = join(root, name)
    if (typeof v === 'string' || Buffer.isBuffer(v)) writeFileSync(p, v)
    else if ('symlink' in v && typeof v.symlink === 'string') symlinkSync(v.symlink, p)
    else if ('exec' in v && typeof v.exec === 'string') {
      writeFileSync(p, v.exec)
      chmodSync(p, 0o755)
    } else makeTree(p, v as TreeSpec)
  }
}

/** One line per entry below root, sorted: `path kind detail`, detail = exec bit + content hash, or target. */
export function describeTree(root: string, skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = []
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const r = rel ? `${rel}/${name}` : name
      if (skip(r)) continue
      const p = join(dir, name)
      const st = lstatSync(p)
      if (st.isSymbolicLink()) out.push(`${r} symlink ${readlinkSync(p)}`)
      else if (st.isDirectory()) {
        out.push(`${r} dir`)
        walk(p, r)
      } else if (st.isFile()) {
        const h = createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)
        out.push(`${r} file ${st.mode & 0o100 ? 'x' : '-'} ${st.size} ${h}`)
      } else out.push(`${r} other`)
    }
  }
  walk(root, '')
  return out
}

type RunOptions = {cwd?: string; input?: Buffer | string; env?: Record<string, string>}

/** Runs a command and returns its standard output; throws with its output unless it exits 0. */
export function runBinary(cmd: string, args: string[], opts: RunOptions = {}): Buffer {
  const r = spawnSync(cmd, args, {cwd: opts.cwd, input: opts.input, env: {...process.env, ...opts.env}, encoding: 'buffer', maxBuffer: 256 << 20})
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout.toString()}\n${r.stderr.toString()}`)
  return r.stdout
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): string {
  return runBinary(cmd, args, opts).toString()
}

/** git with a fixed identity and no user or system config. */
export function git(cwd: string, ...args: string[]): string {
  return run('git', args, {
    cwd,
    env: {
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 'Ada Lovelace',
      GIT_AUTHOR_EMAIL: 'ada@example.com',
      GIT_COMMITTER_NAME: 'Charles Babbage',
      GIT_COMMITTER_EMAIL: 'charles@example.com',
      GIT_AUTHOR_DATE: '1700000000 +0100',
      GIT_COMMITTER_DATE: '1700000100 +0100',
    },
  }).trim()
}

export interface RawEntry {
  name: string
  /** '0' file, '1' hard link, '2' symlink, '3' char device, '5' directory, '6' fifo, or any flag. */
  type?: string
  mode?: number
  content?: Buffer | string
  linkname?: string
  /** Extended header records written before this entry (pax 'x'). */
  pax?: Record<string, string>
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0'
}

function header(name: string, type: string, size: number, mode: number, linkname = ''): Buffer {
  const b = Buffer.alloc(512)
  b.write(name, 0, 100, 'utf8')
  b.write(octal(mode, 8), 100)
  b.write(octal(0, 8), 108)
  b.write(octal(0, 8), 116)
  b.write(octal(size, 12), 124)
  b.write(octal(1700000000, 12), 136)
  b.write('        ', 148)
  b.write(type, 156)
  b.write(linkname, 157, 100, 'utf8')
  b.write('ustar\0', 257)
  b.write('00', 263)
  let sum = 0
  for (const x of b) sum += x
  b.write(octal(sum, 7) + ' ', 148)
  return b
}

function padded(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512
  return Buffer.concat([data, Buffer.alloc(pad)])
}

/** A ustar archive with exactly these entries, in this order (no checks, no normalisation). */
export function rawTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const e of entries) {
    if (e.pax) {
      const body = Buffer.from(
        Object.entries(e.pax)
          .map(([k, v]) => {
            const rec = ` ${k}=${v}\n`
            let len = Buffer.byteLength(rec) + 1
            while (String(len).length + Buffer.byteLength(rec) !== len) len++
            return `${len}${rec}`
          })
          .join(''),
      )
      parts.push(header('PaxHeader', 'x', body.length, 0o644), padded(body))
    }
    const data = Buffer.from(e.content ?? '')
    const type = e.type ?? '0'
    parts.push(header(e.name, type, type === '0' ? data.length : 0, e.mode ?? (type === '5' ? 0o755 : 0o644), e.linkname))
    if (type === '0' && data.length) parts.push(padded(data))
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}
