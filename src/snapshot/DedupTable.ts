/**
 * A lock-free set of object ids shared by the snapshot workers (SharedArrayBuffer), so that a
 * content seen by two workers at once is stored once. Open addressing; each slot has a state word
 * (0 empty, 1 being written, 2 ready) and 32 id bytes. When the table is nearly full, claim()
 * answers true (store it): a duplicate costs space, never correctness.
 */
export interface DedupBuffers {
  states: SharedArrayBuffer
  ids: SharedArrayBuffer
}

export function createDedupBuffers(slots: number): DedupBuffers {
  let n = 1
  while (n < slots) n <<= 1
  return {states: new SharedArrayBuffer(n * 4), ids: new SharedArrayBuffer(n * 32)}
}

export class DedupTable {
  private readonly states: Int32Array
  private readonly ids: Uint8Array
  private readonly mask: number
  private readonly maxProbe: number

  constructor(b: DedupBuffers) {
    this.states = new Int32Array(b.states)
    this.ids = new Uint8Array(b.ids)
    this.mask = this.states.length - 1
    this.maxProbe = Math.min(this.states.length, 64)
  }

  /** True when the caller is the first to claim `id` (and must store it). */
  claim(id: Uint8Array): boolean {
    let slot = (id[0] | (id[1] << 8) | (id[2] << 16) | (id[3] << 24)) & this.mask
    for (let probe = 0; probe < this.maxProbe; probe++, slot = (slot + 1) & this.mask) {
      const prev = Atomics.compareExchange(this.states, slot, 0, 1)
      if (prev === 0) {
        this.ids.set(id, slot * 32)
        Atomics.store(this.states, slot, 2)
        Atomics.notify(this.states, slot)
        return true
      }
      while (Atomics.load(this.states, slot) === 1) Atomics.wait(this.states, slot, 1, 5)
      if (this.equalAt(slot, id)) return false
    }
    return true
  }

  private equalAt(slot: number, id: Uint8Array): boolean {
    const base = slot * 32
    for (let i = 0; i < 32; i++) if (this.ids[base + i] !== id[i]) return false
    return true
  }
}
