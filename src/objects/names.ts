import {VeloError} from '../util/errors.js'

/** Compares two names by Unicode code point, which is the order of their UTF-8 bytes. */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) {
      // Surrogates (D800-DFFF) encode code points above FFFF: they sort after E000-FFFF in UTF-8.
      const xs = x >= 0xd800 && x <= 0xdfff
      const ys = y >= 0xd800 && y <= 0xdfff
      if (xs !== ys) return xs ? 1 : -1
      return x - y
    }
  }
  return a.length - b.length
}

/** True when `name` is safe as one path component: not empty, `.`, `..`, and without `/` or NUL. */
export function isSafeName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0')
}

export function assertSafeName(name: string, where: string): void {
  if (!isSafeName(name)) {
    throw new VeloError('ERR_VELO_UNSAFE_PATH', `unsafe entry name ${JSON.stringify(name)} in ${where}`, {
      hint: 'the repository is corrupted or hostile; run velo fsck',
    })
  }
}
