import {existsSync} from 'node:fs'
import {resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {Worker} from 'node:worker_threads'
import {describe, expect, it} from 'vitest'
import {randomBytes} from '../../test/helpers/trees.js'
import {hash} from '../objects/hash.js'
import {DedupTable, createDedupBuffers} from './DedupTable.js'

const id = (s: string): Buffer => hash(Buffer.from(s))

/** An id whose first 4 bytes (the slot hash) are fixed. */
function collider(prefix: number, i: number): Buffer {
  const b = id(`collide-${prefix}-${i}`)
  b.writeUInt32LE(prefix, 0)
  return b
}

describe('DedupTable', () => {
  it('answers true to the first claim of an id and false afterwards', () => {
    const t = new DedupTable(createDedupBuffers(1024))
    expect(t.claim(id('a'))).toBe(true)
    expect(t.claim(id('a'))).toBe(false)
    expect(t.claim(id('b'))).toBe(true)
    expect(t.claim(Buffer.from(id('a')))).toBe(false)
    const zero = Buffer.alloc(32)
    expect(t.claim(zero)).toBe(true)
    expect(t.claim(zero)).toBe(false)
  })

  it('keeps ids apart that land in the same slot', () => {
    const t = new DedupTable(createDedupBuffers(1024))
    const ids = Array.from({length: 40}, (_, i) => collider(7, i))
    for (const x of ids) expect(t.claim(x)).toBe(true)
    for (const x of ids) expect(t.claim(x)).toBe(false)
  })

  it('shares claims through the buffers: a second table over them sees the first one claims', () => {
    const b = createDedupBuffers(4096)
    const t1 = new DedupTable(b)
    const t2 = new DedupTable(b)
    expect(t1.claim(id('x'))).toBe(true)
    expect(t2.claim(id('x'))).toBe(false)
    expect(t2.claim(id('y'))).toBe(true)
    expect(t1.claim(id('y'))).toBe(false)
  })

  it('when full (or after 64 probes) answers true: a duplicate costs space, never a lost object', () => {
    const tiny = new DedupTable(createDedupBuffers(4))
    const ids = Array.from({length: 6}, (_, i) => id(`tiny-${i}`))
    expect(ids.map((x) => tiny.claim(x)).every(Boolean)).toBe(true)
    expect(tiny.claim(ids[5])).toBe(true) // not recorded: asked again, still "store it"
    const t = new DedupTable(createDedupBuffers(1 << 12))
    const many = Array.from({length: 70}, (_, i) => collider(99, i))
    expect(many.map((x) => t.claim(x)).every(Boolean)).toBe(true)
    expect(many.slice(0, 64).map((x) => t.claim(x)).some(Boolean)).toBe(false)
    expect(many.slice(64).map((x) => t.claim(x)).every(Boolean)).toBe(true)
  })

  it('lets exactly one of two worker threads claim each id', async () => {
    const dist = resolve(import.meta.dirname, '../../dist/snapshot/DedupTable.js')
    expect(existsSync(dist), 'run npm run build first').toBe(true)
    const n = 30000
    const ids = randomBytes(n * 32, 'dedup-threads')
    // some ids twice in the list: each worker also sees its own repeats
    const list = new SharedArrayBuffer((n + 1000) * 32)
    const view = new Uint8Array(list)
    view.set(ids)
    view.set(ids.subarray(0, 1000 * 32), n * 32)
    const buffers = createDedupBuffers(n * 4)
    const wins = new SharedArrayBuffer((n + 1000) * 4 * 2) // per worker, per list position: 1 if claimed
    const gate = new SharedArrayBuffer(4)
    const code = `
      const {workerData, parentPort} = require('node:worker_threads')
      import(workerData.url).then(({DedupTable}) => {
        const t = new DedupTable(workerData.buffers)
        const list = new Uint8Array(workerData.list)
        const wins = new Int32Array(workerData.wins)
        const count = list.length / 32
        const base = workerData.me * count
        // barrier: start together, so that the two really race
        const gate = new Int32Array(workerData.gate)
        Atomics.add(gate, 0, 1)
        Atomics.notify(gate, 0)
        while (Atomics.load(gate, 0) < 2) Atomics.wait(gate, 0, 1, 100)
        for (let k = 0; k < count; k++) {
          // the two workers walk the list in opposite directions, so they race in the middle
          const i = workerData.me === 0 ? k : count - 1 - k
          if (t.claim(list.subarray(i * 32, i * 32 + 32))) wins[base + i] = 1
        }
        parentPort.postMessage('done')
      })`
    const run = (me: number): Promise<void> =>
      new Promise((res, rej) => {
        const w = new Worker(code, {eval: true, workerData: {url: pathToFileURL(dist).href, buffers, list, wins, gate, me}})
        w.once('message', () => void w.terminate().then(() => res()))
        w.once('error', rej)
      })
    await Promise.all([run(0), run(1)])
    const w = new Int32Array(wins)
    const count = n + 1000
    const bad: number[] = []
    let firstWorker = 0
    for (let i = 0; i < n; i++) {
      const claims = w[i] + w[count + i] + (i < 1000 ? w[n + i] + w[count + n + i] : 0)
      if (claims !== 1) bad.push(i)
      firstWorker += w[i] + (i < 1000 ? w[n + i] : 0)
    }
    expect(bad.slice(0, 10), `${bad.length} ids claimed other than once`).toEqual([])
    expect(firstWorker).toBeGreaterThan(0)
  })
})
