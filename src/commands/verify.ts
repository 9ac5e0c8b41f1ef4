import {Args, Flags} from '@oclif/core'
import {verify, type VerifyResult} from '../api/verify.js'
import {BaseCommand} from '../cli/BaseCommand.js'
import {humanBytes} from '../cli/output.js'
import {ExitCode} from '../util/errors.js'

export default class Verify extends BaseCommand {
  static override summary = 'Re-hash everything reachable and check signatures'
  static override description = `From REV or RUN (default: every ref) follows every link: run records (and the previous runs of their chain), their input and output snapshots, stdout, stderr and trace blobs, snapshots and their parents, trees, files and chunks. Every object is read and re-hashed (BLAKE3), chunked files also as a whole, and every signature is checked against the object it signs. Each problem names the object and the path that leads to it; the first one listed is the first broken link. Exit code 13 when anything is missing, damaged or wrongly signed.
Signatures by keys other than this repository's (velo key generate) and those listed in "trustedKeys" of velo.json are reported as untrusted; with --require-signed, every run record and every snapshot a ref names must be signed by a trusted key.
velo verify checks what history references; velo fsck checks the packs themselves (every object, referenced or not).`
  static override examples = ['<%= config.bin %> verify', '<%= config.bin %> verify agent', '<%= config.bin %> verify 3f2a9c1d --require-signed --json']
  static override args = {rev: Args.string({description: 'snapshot, run or ref to start from (default: every ref)'})}
  static override flags = {'require-signed': Flags.boolean({description: 'unsigned or untrusted run records and ref snapshots are problems'})}

  async run(): Promise<VerifyResult> {
    const {args, flags} = await this.parse(Verify)
    const repo = this.openRepo(flags.repo)
    const r = await this.withProgress((p) => verify(repo, {rev: args.rev, requireSigned: flags['require-signed'], onProgress: (x) => p.update({phase: 'verify', done: x.objects, bytes: x.bytes, unit: 'objects'})}))
    if (!this.jsonEnabled()) {
      for (const p of r.problems) this.out(`${p.kind}\t${p.message}\n\treached from ${p.path}`)
      const s = r.signatures
      this.out(`${r.ok ? 'ok' : 'FAILED'}: ${r.roots.length} roots, ${r.runs} runs, ${r.snapshots} snapshots, ${r.objects} objects, ${humanBytes(r.bytes)} re-hashed; signatures: ${s.valid} valid${s.untrusted ? ` (${s.untrusted} by untrusted keys)` : ''}, ${s.invalid} invalid, ${s.unsigned} unsigned`)
      for (const k of r.signers) this.out(`signer ${k.fingerprint}${k.trusted ? '' : ' (untrusted)'}: ${k.objects} objects`)
      if (!r.ok) this.out(`first broken link: ${r.problems[0].id ?? ''} (${r.problems[0].path})`)
    }
    if (!r.ok) process.exitCode = ExitCode.corrupt
    return r
  }
}
