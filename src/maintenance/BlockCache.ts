/** Random block reads for fsck's chunked-file checks (fsckTasks.ts, ChunkStreams.ts). */
import {BlockReader} from '../store/BlockReader.js'

/** Where a chunk is: pack file, block (offset and length) and place in the block's payload. */
export interface ChunkPlace {
  id: string
  size: number
  packPath: string
  blockOffset: number
  blockLength: number
  offset: number
  length: number
}

/**
 * The last few blocks read, each decompressed once into its own reused buffers (BlockReader): the
 * chunks of a file mostly follow each other, but parallel snapshot workers interleave blocks.
 */
export class BlockCache {
  private readers: BlockReader[] = []
  private keys: string[] = []
  private next = 0

  constructor(private readonly slots = 4) {}

  read(path: string, offset: number, length: number): Buffer {
    const key = `${path}:${offset}`
    let i = this.keys.indexOf(key)
    if (i < 0) {
      if (this.readers.length < this.slots) {
        this.readers.push(new BlockReader())
        this.keys.push('')
        i = this.readers.length - 1
      } else {
        i = this.next
        this.next = (this.next + 1) % this.slots
      }
      this.keys[i] = ''
      this.readers[i].read(path, offset, length)
      this.keys[i] = key
    }
    return this.readers[i].read(path, offset, length)
  }

  close(): void {
    for (const r of this.readers) r.close()
  }
}
