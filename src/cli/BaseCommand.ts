/**
 * Base of every velo command: --repo, --json and --quiet, error mapping (output.ts), warnings and
 * progress. A command returns its result: with --json it is printed as one JSON line (NDJSON, see
 * docs/json.md); otherwise the command prints its human view when !this.jsonEnabled().
 *
 * Progress in a few lines (the reporter fits the flags and the terminal, see src/ui/createProgress.ts):
 *   const r = await this.withProgress((p) => work({onProgress: (x) => p.update({phase: 'write', done: x.files, total: x.totalFiles, unit: 'files'})}))
 * With --json, an object result is printed as {"type":"summary", ...result} (lists as arrays), after
 * any `progress` and `warning` events; a failure as {"type":"error",...}.
 */
import {Command, Flags, type Interfaces} from '@oclif/core'
import {Repository} from '../repo/Repository.js'
import {createProgress} from '../ui/createProgress.js'
import type {ProgressReporter} from '../ui/ProgressEvent.js'
import {writeJsonLine} from '../ui/jsonLines.js'
import {reportError, warn} from './output.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    repo: Flags.string({
      description: 'repository path (default: $VELO_REPO, else ~/.velo)',
      helpGroup: 'GLOBAL',
    }),
    quiet: Flags.boolean({
      char: 'q',
      description: 'no progress output (warnings and the result are still printed)',
      helpGroup: 'GLOBAL',
    }),
    json: Flags.boolean({
      description: 'JSON lines on stdout: progress/warning events, then the result (or an error) as the last line',
      helpGroup: 'GLOBAL',
    }),
  }

  protected warnings: string[] = []
  private quietFlag = false
  private reporter: ProgressReporter | undefined

  /** The command as typed: `ref set`. */
  protected get commandName(): string {
    return (this.id ?? '').replace(/:/g, ' ')
  }

  protected override async parse<F extends {[name: string]: any}, B extends {[name: string]: any}, A extends {[name: string]: any}>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    let r: Interfaces.ParserOutput<F, B, A>
    try {
      r = await super.parse<F, B, A>(options, argv)
    } catch (err) {
      this.parsed = true // it did parse: the arguments were wrong (no "did not parse" warning)
      throw err
    }
    this.quietFlag = Boolean((r.flags as {quiet?: unknown}).quiet)
    return r
  }

  protected openRepo(repoFlag: string | undefined, create = false): Repository {
    return Repository.open(repoFlag, {create})
  }

  /**
   * The progress reporter for this run (created once): ink view, plain lines, NDJSON events or
   * nothing, from --json, --quiet, the terminal and $CI. Call done() when the work ends, or use
   * withProgress(), which does.
   */
  protected progress(): ProgressReporter {
    this.reporter ??= createProgress({command: this.commandName, json: this.jsonEnabled(), quiet: this.quietFlag, writeJson: (v) => this.logJson(v)})
    return this.reporter
  }

  /**
   * Runs `work` with the progress reporter and closes the view (marked failed on error) after it.
   * `eager`: work that blocks the event loop (a synchronous walk) has the ink view loaded first, so
   * that it can draw during the work.
   */
  protected async withProgress<T>(work: (p: ProgressReporter) => Promise<T> | T, o: {eager?: boolean} = {}): Promise<T> {
    const p = this.progress()
    let ok = false
    try {
      await p.ready(o.eager)
      const r = await work(p)
      ok = true
      return r
    } finally {
      await p.done(ok)
    }
  }

  /** Warnings: a `warning` event with --json, else `velo: warning: ...` on stderr (above an ink view). */
  protected onWarning = (msg: string): void => {
    this.warnings.push(msg)
    if (this.reporter) this.reporter.warn(msg)
    else if (this.jsonEnabled()) this.logJson({type: 'warning', message: msg})
    else warn(msg)
  }

  protected out(line: string): void {
    process.stdout.write(line + '\n')
  }

  /** One line of JSON (NDJSON), never pretty-printed. Events go through it too: a command whose
   * stdout carries data (export tar to stdout) overrides it to write to stderr. */
  protected override logJson(json: unknown): void {
    writeJsonLine(json)
  }

  protected override toSuccessJson(result: unknown): unknown {
    return isPlainObject(result) ? {type: 'summary', ...result} : result
  }

  override async catch(err: Error & {exitCode?: number; code?: string; oclif?: {exit?: number}}): Promise<void> {
    if (err.code === 'EEXIT' && err.oclif?.exit !== undefined) {
      process.exitCode = err.oclif.exit
      return
    }
    if (this.reporter) await this.reporter.done(false)
    process.exitCode = reportError(err, this.jsonEnabled(), {command: this.commandName})
  }
}
