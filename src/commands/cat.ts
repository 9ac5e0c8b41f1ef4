import {Args} from '@oclif/core'
import {writeSync} from 'node:fs'
import {entryAt, splitRevPath} from '../api/treePath.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {createHasher} from '../objects/hash.js'
import {ObjectType} from '../pack/block.js'
import {VeloError, isErrno} from '../util/errors.js'

export default class Cat extends BaseCommand {
  static override enableJsonFlag = false
  /** The file's bytes are the output: no --json. */
  static override baseFlags = {repo: BaseCommand.baseFlags.repo, quiet: BaseCommand.baseFlags.quiet} as unknown as typeof BaseCommand.baseFlags
  static override summary = 'Write a file of a snapshot to stdout'
  static override description = 'Streams the bytes of REV:PATH, verified chunk by chunk. For a symlink, prints its target.'
  static override examples = ['<%= config.bin %> cat app/deps:react/package.json', '<%= config.bin %> cat 3f2a9c1d:bin/tool > tool']
  static override args = {spec: Args.string({description: 'REV:PATH', required: true})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Cat)
    const repo = this.openRepo(flags.repo)
    const {rev, path} = splitRevPath(args.spec)
    if (!path) throw new VeloError('ERR_VELO_USAGE', 'velo cat needs REV:PATH', {hint: 'e.g. velo cat app/deps:package.json'})
    const e = entryAt(repo, repo.readSnapshot(repo.resolveSnapshot(rev)).tree, path)
    if (e.kind === 'dir') throw new VeloError('ERR_VELO_USAGE', `${path} is a directory`, {hint: `list it with velo ls ${args.spec}`})
    if (e.kind === 'symlink') {
      process.stdout.write(e.target! + '\n')
      return
    }
    const h = createHasher()
    for (const c of repo.packs.chunksOf(e.id, e.size)) {
      const data = repo.packs.read(c.id, ObjectType.blob).data
      h.update(data)
      writeOut(data)
    }
    if (h.digest().toString('hex') !== e.id) throw new VeloError('ERR_VELO_CORRUPT', `${path} failed verification`, {hint: 'run velo fsck'})
  }
}

/** Writes to fd 1, waiting while it is a full non-blocking pipe (EAGAIN) instead of failing. */
function writeOut(data: Uint8Array): void {
  let off = 0
  while (off < data.length) {
    try {
      off += writeSync(1, data, off, data.length - off)
    } catch (err) {
      if (!isErrno(err, 'EAGAIN')) throw err
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2)
    }
  }
}
