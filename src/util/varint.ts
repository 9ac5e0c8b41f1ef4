/** Unsigned LEB128 varints (up to 2^53 - 1), as used by every velo codec. */
export function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  buf[pos++] = n
  return pos
}

export class ByteReader {
  pos = 0
  constructor(readonly buf: Uint8Array, readonly what: string) {}

  get remaining(): number {
    return this.buf.length - this.pos
  }

  fail(msg: string): never {
    throw new RangeError(`${this.what}: ${msg} at byte ${this.pos}`)
  }

  u8(): number {
    if (this.pos >= this.buf.length) this.fail('truncated')
    return this.buf[this.pos++]
  }

  varint(): number {
    let n = 0
    let mul = 1
    for (let i = 0; i < 8; i++) {
      const b = this.u8()
      n += (b & 0x7f) * mul
      if ((b & 0x80) === 0) {
        if (n > Number.MAX_SAFE_INTEGER) this.fail('varint too large')
        return n
      }
      mul *= 128
    }
    this.fail('varint too long')
  }

  bytes(n: number): Uint8Array {
    if (n > this.remaining) this.fail('truncated')
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
}
