/**
 * The part of `velo run` and `velo replay` that runs the command: a fresh checkout of the input,
 * the command in it, its stdout and stderr stored as blobs, then the output snapshot and the
 * access trace; the checkout is removed whatever happens.
 */
import {stat} from 'node:fs/promises'
import {join} from 'node:path'
import type {SnapshotResult} from '../api/snapshot.js'
import type {Oid} from '../objects/oid.js'
import type {RunOutput} from '../objects/runRecord.js'
import type {Repository} from '../repo/Repository.js'
import type {ObjectWriter} from '../store/ObjectWriter.js'
import {VeloError} from '../util/errors.js'
import {execCommand, resolveCommand, type ExecResult} from './execCommand.js'
import {openWorkspace, type WorkspaceMode} from './Workspace.js'

export interface ExecuteOptions {
  input: Oid
  argv: string[]
  /** Relative to the input root ('' = root). */
  cwd: string
  env: Record<string, string>
  mode: WorkspaceMode | 'auto'
  onStdout?(data: Buffer): void
  onStderr?(data: Buffer): void
  onWarning?(msg: string): void
  /** Called when the command starts and when it has ended (velo then records the output). */
  onPhase?(phase: 'command' | 'output'): void
  signal?: AbortSignal
}

export interface Execution {
  mode: WorkspaceMode
  exec: ExecResult
  output: SnapshotResult
  trace: string[] | null
  stdout: RunOutput
  stderr: RunOutput
}

function interrupted(): VeloError {
  return new VeloError('ERR_VELO_INTERRUPTED', 'interrupted before the command started: nothing was recorded')
}

export async function executeInCheckout(repo: Repository, writer: ObjectWriter, o: ExecuteOptions): Promise<Execution> {
  if (o.signal?.aborted) throw interrupted()
  const ws = await openWorkspace(repo, {input: o.input, mode: o.mode, onWarning: o.onWarning})
  try {
    const cwd = o.cwd ? join(ws.root, o.cwd) : ws.root
    let isDir = false
    try {
      isDir = (await stat(cwd)).isDirectory()
    } catch {
      /* reported below */
    }
    if (!isDir) {
      throw new VeloError('ERR_VELO_NOT_FOUND', `the working directory ${o.cwd} is not a directory in the input`, {hint: 'pass --cwd PATH relative to the input root'})
    }
    await resolveCommand(o.argv[0], cwd, o.env)
    if (o.signal?.aborted) throw interrupted()
    const out = writer.blobSink()
    const err = writer.blobSink()
    o.onPhase?.('command')
    const exec = await execCommand({
      argv: o.argv,
      cwd,
      env: o.env,
      chdirAfterExec: ws.chdirAfterExec,
      signal: o.signal,
      onStdout: (d) => {
        out.write(d)
        o.onStdout?.(d)
      },
      onStderr: (d) => {
        err.write(d)
        o.onStderr?.(d)
      },
    })
    o.onPhase?.('output')
    const {output, trace} = await ws.finish({onWarning: o.onWarning})
    return {mode: ws.mode, exec, output, trace, stdout: out.finish(), stderr: err.finish()}
  } finally {
    await ws.dispose()
  }
}
