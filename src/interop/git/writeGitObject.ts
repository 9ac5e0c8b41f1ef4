/**
 * Writing git objects through isomorphic-git's object store (writeObject), with the id and the
 * compression done natively: isomorphic-git's writeBlob/writeTree hash with WebCrypto and deflate
 * through web streams, about 1.5 ms of CPU per object, 5x what node:crypto and node:zlib take.
 * Loose objects are deflated at level 1, git's own default for them (core.looseCompression).
 */
import {createHash} from 'node:crypto'
import {deflateSync} from 'node:zlib'
import {type Git, gitFs} from './isomorphicGit.js'

export type GitObjectType = 'blob' | 'tree' | 'commit'

/** Writes one loose object (unless it exists) and returns its id. */
export async function writeGitObject(git: Git, gitdir: string, type: GitObjectType, content: Uint8Array): Promise<string> {
  const head = Buffer.from(`${type} ${content.length}\0`)
  const oid = createHash('sha1').update(head).update(content).digest('hex')
  const object = deflateSync(Buffer.concat([head, content]), {level: 1})
  await git.writeObject({fs: gitFs, gitdir, type, object, format: 'deflated', oid})
  return oid
}

export interface GitTreeItem {
  mode: '100644' | '100755' | '120000' | '040000'
  name: string
  oid: string
}

/**
 * A git tree object's bytes: entries sorted as git sorts them (bytes of the name, a directory's
 * name compared as if it ended in "/"), `<mode> <name>\0<20-byte id>` each, modes without leading 0.
 */
export function encodeGitTree(items: GitTreeItem[]): Buffer {
  const keyed = items.map((it) => ({it, name: Buffer.from(it.name, 'utf8'), key: Buffer.from(it.mode === '040000' ? `${it.name}/` : it.name, 'utf8')}))
  keyed.sort((a, b) => Buffer.compare(a.key, b.key))
  const parts: Buffer[] = []
  for (const {it, name} of keyed) {
    parts.push(Buffer.from(`${it.mode === '040000' ? '40000' : it.mode} `), name, Buffer.from([0]), Buffer.from(it.oid, 'hex'))
  }
  return Buffer.concat(parts)
}
