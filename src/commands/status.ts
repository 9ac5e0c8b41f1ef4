import {Args, Flags} from '@oclif/core'
import {status, type StatusResult} from '../api/status.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {humanBytes} from '../cli/output.js'
import {scanUpdate} from '../cli/progressUpdates.js'

const SHOWN = 20

export default class Status extends BaseCommand {
  static override summary = 'Show the repository in use, what a snapshot of DIR would change, and the active mounts'
  static override description = `Says which repository is in use (and why: --repo, $VELO_REPO or the default ~/.velo), which ref the next velo snapshot DIR moves, what that snapshot would add, modify or delete compared with the ref's snapshot (unchanged files are recognised by the stat cache, as velo snapshot does; nothing is stored), and which mounts of the repository are being served.
Paths are listed as velo diff does (A, M, D, T), at most ${SHOWN} unless --json.`
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status node_modules', '<%= config.bin %> status build --ref ci/build --json']
  static override args = {dir: Args.string({description: 'directory (default: the current one)', default: '.'})}
  static override flags = {ref: Flags.string({description: 'compare with this ref instead of the one velo snapshot DIR would move'})}

  async run(): Promise<StatusResult> {
    const {args, flags} = await this.parse(Status)
    const r = await this.withProgress((p) => status({repo: flags.repo, dir: args.dir, ref: flags.ref, onProgress: (x) => p.update(scanUpdate(x))}))
    if (!this.jsonEnabled()) for (const l of renderStatus(r)) this.out(l)
    return r
  }
}

export function renderStatus(r: StatusResult): string[] {
  const why = r.repository.from === 'flag' ? '--repo' : r.repository.from === 'env' ? '$VELO_REPO' : 'default'
  const out = [`repository ${r.repository.path} (${why})${r.repository.exists ? '' : ': does not exist yet; velo snapshot creates it'}`]
  out.push(`directory  ${r.dir}`)
  if (!r.snapshot) {
    const n = r.new!
    out.push(`ref        ${r.ref}: no snapshot yet`)
    out.push(`the first snapshot records ${n.files} files, ${n.dirs} directories, ${n.symlinks} symlinks, ${humanBytes(n.bytes)}`)
  } else {
    out.push(`ref        ${r.ref} -> ${r.snapshot.slice(0, 12)} (${r.time})`)
    const c = r.counts
    const total = c.added + c.modified + c.deleted + c.typeChanged
    if (total === 0) out.push('no changes: the next snapshot would record the same tree')
    else {
      out.push(`changes    ${c.added} added, ${c.modified} modified, ${c.deleted} deleted, ${c.typeChanged} type changed`)
      for (const ch of r.changes!.slice(0, SHOWN)) out.push(`  ${ch.status}\t${ch.path}`)
      if (total > SHOWN) out.push(`  ... and ${total - SHOWN} more (velo diff ${r.ref} ${r.dir} lists them all)`)
    }
  }
  if (r.mounts.length === 0) out.push('mounts     none')
  else {
    out.push(`mounts     ${r.mounts.length}`)
    for (const m of r.mounts) out.push(`  ${m.mountpoint}\t${m.snapshot.slice(0, 12)} (${m.rev})\t${m.readOnly ? 'ro' : 'rw'}\tpid ${m.pid}\tsince ${m.since}`)
  }
  return out
}
