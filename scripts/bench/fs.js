// The filesystem the benchmark writes on. The root filesystem of the project's machines is ext4
// WITHOUT a journal; there, creating many files soon after deleting many costs 10-20x (ext4 skips
// recently deleted inodes one by one; see ../shared/bench/fs.sh and ../shared/docs/baselines.md §7).
// As root we therefore measure on a journaled ext4 (mkfs defaults) in a sparse image, loop-mounted
// with direct I/O, like `../shared/bench/fs.sh up`; otherwise on whatever the work dir is on.
import {mkdirSync, rmSync} from 'node:fs'
import {log, q, sh} from './sh.js'

function isMountpoint(dir) {
  return sh(`mountpoint -q ${q(dir)} && echo yes || true`).trim() === 'yes'
}

/** Describes the filesystem holding `dir` (source, type, options). */
export function describeFs(dir) {
  try {
    return sh(`findmnt -n -o SOURCE,FSTYPE,OPTIONS --target ${q(dir)}`).trim().replace(/\s+/g, ' ')
  } catch {
    return 'unknown'
  }
}

/**
 * Prepares `work`. mode: 'auto' (loop ext4 when root), 'loop' (required), 'none' (plain fs).
 * Returns {kind: 'loop'|'existing-mount'|'plain', description, down()}.
 */
export function fsUp({work, image, size = '40G', mode = 'auto'}) {
  mkdirSync(work, {recursive: true})
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (mode === 'none' || (mode === 'auto' && !root)) {
    return {kind: 'plain', description: `plain filesystem (${describeFs(work)})${root ? '' : ', not root: no loop mount'}`, down() {}}
  }
  if (!root) throw new Error('--fs loop needs root (losetup, mount)')
  if (isMountpoint(work)) {
    return {kind: 'existing-mount', description: `existing mount (${describeFs(work)}), left mounted`, down() {}}
  }
  rmSync(image, {force: true})
  sh(`truncate -s ${q(size)} ${q(image)} && mkfs.ext4 -q -F ${q(image)}`)
  const dev = sh(`losetup --find --show --direct-io=on ${q(image)}`).trim()
  try {
    sh(`mount ${q(dev)} ${q(work)}`)
  } catch (err) {
    sh(`losetup -d ${q(dev)}`, {allowFail: true})
    rmSync(image, {force: true})
    throw err
  }
  log(`mounted ${dev} (${image}, journaled ext4, direct I/O) on ${work}`)
  let mounted = true
  return {
    kind: 'loop',
    description: `journaled ext4 (mkfs defaults) in a sparse ${size} image on ${describeFs(image)}, loop-mounted with direct I/O`,
    down() {
      if (!mounted) return
      mounted = false
      sh(`umount ${q(work)}`, {allowFail: true})
      sh(`losetup -d ${q(dev)}`, {allowFail: true})
      rmSync(image, {force: true})
      log(`unmounted ${work} and removed ${image}`)
    },
  }
}
