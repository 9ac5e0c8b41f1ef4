import {describe, expect, it} from 'vitest'
import {resolveLexically, splitArchivePath} from './archivePath.js'
import {compressionForName, detectCompression} from './compression.js'

describe('splitArchivePath', () => {
  it('drops ./, . and empty components', () => {
    expect(splitArchivePath('./a//b/./c/')).toEqual(['a', 'b', 'c'])
    expect(splitArchivePath('./')).toEqual([])
    expect(splitArchivePath('.')).toEqual([])
  })
  it('rejects absolute names and .. anywhere', () => {
    for (const bad of ['/etc/passwd', '../x', 'a/../b', 'a/..', '..']) {
      expect(() => splitArchivePath(bad), bad).toThrow(expect.objectContaining({code: 'ERR_VELO_UNSAFE_PATH'}))
    }
  })
  it('keeps names that only look odd', () => {
    expect(splitArchivePath('...')).toEqual(['...'])
    expect(splitArchivePath('a\\..\\b')).toEqual(['a\\..\\b'])
  })
})

describe('resolveLexically', () => {
  it('resolves relative targets from the link directory and refuses escapes', () => {
    expect(resolveLexically(['a', 'b'], '../c')).toEqual(['a', 'c'])
    expect(resolveLexically(['a'], '../../c')).toBeUndefined()
    expect(resolveLexically([], '/abs')).toBeUndefined()
    expect(resolveLexically([], './x/./y')).toEqual(['x', 'y'])
  })
})

describe('compression', () => {
  it('detects gzip and zstd by magic, refuses xz and bzip2, else none', () => {
    expect(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]))).toBe('gzip')
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]))).toBe('zstd')
    expect(detectCompression(Buffer.from('a.txt\0'))).toBe('none')
    expect(detectCompression(Buffer.alloc(0))).toBe('none')
    expect(() => detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]))).toThrow(/xz-compressed/)
    expect(() => detectCompression(Buffer.from('BZh91AY'))).toThrow(/bzip2-compressed/)
  })
  it('picks the output compression from the file name', () => {
    expect(compressionForName('a.tar.gz')).toBe('gzip')
    expect(compressionForName('a.tgz')).toBe('gzip')
    expect(compressionForName('a.tar.zst')).toBe('zstd')
    expect(compressionForName('a.tar')).toBe('none')
  })
})
