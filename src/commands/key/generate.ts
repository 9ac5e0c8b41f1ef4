import {Flags} from '@oclif/core'
import {generateSigningKey, type GeneratedKey} from '../../audit/signingKey.js'
import {BaseCommand} from '../../cli/BaseCommand.js'

export default class KeyGenerate extends BaseCommand {
  static override summary = 'Create the Ed25519 key pair that --sign uses'
  static override description = `Writes an Ed25519 private key (PEM, mode 0600) and its public key (PATH.pub), by default <repo>/keys/ed25519, and records the path as "signingKey" in the repository config (velo.json). velo snapshot --sign and velo run --sign sign with it; velo verify checks signatures and treats this key (and "trustedKeys" in velo.json) as trusted. $VELO_SIGNING_KEY names another private key file for one command.`
  static override examples = ['<%= config.bin %> key generate', '<%= config.bin %> key generate --out ~/.config/velo/ci.key --force']
  static override flags = {
    out: Flags.string({description: 'private key file to write (default <repo>/keys/ed25519)'}),
    force: Flags.boolean({description: 'replace an existing key'}),
  }

  async run(): Promise<GeneratedKey> {
    const {flags} = await this.parse(KeyGenerate)
    const repo = this.openRepo(flags.repo, true)
    const r = generateSigningKey(repo, {out: flags.out, force: flags.force})
    if (!this.jsonEnabled()) {
      this.out(`private key ${r.privateKeyPath} (mode 0600), public key ${r.publicKeyPath}`)
      this.out(`${r.fingerprint} ${r.publicKey}`)
    }
    return r
  }
}
