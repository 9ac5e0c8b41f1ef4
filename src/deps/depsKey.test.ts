import {describe, expect, it} from 'vitest'
import {depsKey, depsRef, encodeDepsKeyInputs, type DepsKeyInputs} from './depsKey.js'

const base: DepsKeyInputs = {
  manager: 'npm',
  files: [{path: 'package-lock.json', bytes: Buffer.from('{"lockfileVersion":3}\n')}],
  argv: ['npm', 'ci'],
  runtime: 'v20.20.2',
  platform: 'linux',
  arch: 'x64',
  dir: 'node_modules',
}

describe('depsKey', () => {
  it('encodes every input as a tagged, length-prefixed field after the magic line', () => {
    const enc = encodeDepsKeyInputs({...base, files: [{path: 'a', bytes: Buffer.from('xy')}], argv: ['i']})
    const field = (tag: string, v: string): Buffer => {
      const h = Buffer.alloc(9)
      h.write(tag, 0, 'latin1')
      h.writeBigUInt64BE(BigInt(Buffer.byteLength(v)), 1)
      return Buffer.concat([h, Buffer.from(v)])
    }
    const want = Buffer.concat([
      Buffer.from('velo deps key 1\n'), field('m', 'npm'), field('f', 'a'), field('c', 'xy'), field('a', 'i'),
      field('r', 'v20.20.2'), field('p', 'linux'), field('h', 'x64'), field('d', 'node_modules'),
    ])
    expect(enc.equals(want)).toBe(true)
  })

  it('is 64 hex digits, stable, and its ref is deps/<key>', () => {
    const k = depsKey(base)
    expect(k).toMatch(/^[0-9a-f]{64}$/)
    expect(depsKey({...base, files: [{path: 'package-lock.json', bytes: Buffer.from('{"lockfileVersion":3}\n')}]})).toBe(k)
    expect(depsRef(k)).toBe(`deps/${k}`)
  })

  it('changes with every input', () => {
    const k = depsKey(base)
    const variants: Partial<DepsKeyInputs>[] = [
      {manager: 'pnpm'},
      {files: [{path: 'package-lock.json', bytes: Buffer.from('{"lockfileVersion":3}\n\n')}]},
      {files: [{path: 'other/package-lock.json', bytes: Buffer.from('{"lockfileVersion":3}\n')}]},
      {files: []},
      {argv: ['npm', 'ci', '--omit=dev']},
      {runtime: 'v22.1.0'},
      {platform: 'darwin'},
      {arch: 'arm64'},
      {dir: 'vendor'},
    ]
    const keys = variants.map((v) => depsKey({...base, ...v}))
    for (const x of keys) expect(x).not.toBe(k)
    expect(new Set(keys).size).toBe(keys.length)
  })

  it('cannot be confused by moving bytes between fields', () => {
    expect(depsKey({...base, argv: ['npm ci']})).not.toBe(depsKey(base))
    expect(depsKey({...base, argv: ['npm', 'ci', '']})).not.toBe(depsKey(base))
    const two = {...base, files: [{path: 'a', bytes: Buffer.from('bc')}]}
    expect(depsKey(two)).not.toBe(depsKey({...base, files: [{path: 'ab', bytes: Buffer.from('c')}]}))
  })
})
