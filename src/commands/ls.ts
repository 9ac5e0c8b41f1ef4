import {Args, Flags} from '@oclif/core'
import {entryAt, splitRevPath} from '../api/treePath.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import type {TreeEntry} from '../objects/tree.js'

interface Listed {
  path: string
  kind: string
  size: number
  id: string
  target?: string
}

export default class Ls extends BaseCommand {
  static override summary = 'List the entries of a snapshot'
  static override description = 'Lists REV:PATH (PATH defaults to the root): kind, size, id and name; -r lists everything below.'
  static override examples = ['<%= config.bin %> ls app/deps', '<%= config.bin %> ls app/deps:react -r', '<%= config.bin %> ls 3f2a9c1d:bin --json']
  static override args = {spec: Args.string({description: 'REV or REV:PATH', required: true})}
  static override flags = {recursive: Flags.boolean({char: 'r', description: 'list recursively'})}

  async run(): Promise<Listed[]> {
    const {args, flags} = await this.parse(Ls)
    const repo = this.openRepo(flags.repo)
    const {rev, path} = splitRevPath(args.spec)
    const root = repo.readSnapshot(repo.resolveSnapshot(rev)).tree
    const start = entryAt(repo, root, path)
    const out: Listed[] = []
    const add = (e: TreeEntry, p: string): void => {
      out.push({path: p, kind: e.kind, size: e.size, id: e.id, ...(e.target !== undefined ? {target: e.target} : {})})
    }
    const walk = (tree: string, prefix: string): void => {
      for (const e of repo.readTree(tree as TreeEntry['id'])) {
        const p = prefix ? `${prefix}/${e.name}` : e.name
        add(e, p)
        if (flags.recursive && e.kind === 'dir') walk(e.id, p)
      }
    }
    if (start.kind === 'dir') walk(start.id, '')
    else add(start, path)
    if (!this.jsonEnabled()) {
      const lines = out.map((e) => `${e.kind.padEnd(7)} ${String(e.size).padStart(10)} ${e.id.slice(0, 12)}  ${e.path}${e.kind === 'dir' ? '/' : ''}${e.target !== undefined ? ` -> ${e.target}` : ''}`)
      if (lines.length) process.stdout.write(lines.join('\n') + '\n')
    }
    return out
  }
}
