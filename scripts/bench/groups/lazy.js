// Lazy checkout from a real Ceph RGW on loopback (issue 5): the npm-tree snapshot is pushed once
// (setup), then each round, in a fresh repository that only knows the remote:
//   - `velo checkout rgw/npm MNT` until the first byte of the snapshot's deepest file is read
//     (metadata pull, mount server start, one range request), and
//   - reading one package of about 100 files through that mount: bytes received from RGW (the
//     mount's fetch.json) against those files' compressed size in the packs.
// RGW: the benchmark's own instance (scripts/rgw.sh with /tmp/velo-rgw-bench on port 17490, as
// scripts/bench-remote.js), started if it is not running and stopped at exit if this run started it.
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

const RGW_ENV = {VELO_RGW_DIR: '/tmp/velo-rgw-bench', VELO_RGW_PORT: '17490', VELO_RGW_MON_PORT: '16790', VELO_RGW_MEM_BYTES: String(3 * 2 ** 30)}
const state = {}

function startRgw(b) {
  const script = join(b.projectRoot, 'scripts/rgw.sh')
  const env = {...process.env, ...RGW_ENV}
  const up = b.sh(`curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${RGW_ENV.VELO_RGW_PORT}/ || true`).trim() === '200'
  if (!up) {
    b.note('starting the benchmark RGW (scripts/rgw.sh start, /tmp/velo-rgw-bench)')
    execFileSync('bash', [script, 'start'], {stdio: ['ignore', 'ignore', 'inherit'], env})
    process.on('exit', () => {
      try {
        execFileSync('bash', [script, 'stop'], {stdio: 'ignore', env})
      } catch {
        // already stopped
      }
    })
  }
  const out = execFileSync('bash', [script, 'env'], {encoding: 'utf8', env})
  const vars = {}
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) vars[m[1]] = m[2].replace(/^'|'$/g, '')
  // The commands' environment drops VELO_*: the endpoint goes into the remote's configuration.
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) b.env[k] = vars[k]
  return vars.VELO_S3_ENDPOINT
}

export default {
  name: 'lazy',
  title: 'lazy checkout from S3 (Ceph RGW, loopback)',
  corpus: 'npm',
  rows: [
    {id: 'lazy.checkout', label: 'velo checkout REMOTE/REF until the deepest file\'s first byte', target: {max: 0.5, text: '<= 0.5 s'}},
    {id: 'lazy.metadata', label: '  metadata fetched by that checkout', unit: 'KiB'},
    {id: 'lazy.metadata.ms', label: '  of the time: metadata pull in the mount server', unit: 'ms'},
    {id: 'lazy.ready.ms', label: '  mount ready, after the server process started', unit: 'ms'},
    {id: 'lazy.package.read', label: 'read one package (~100 files) through the lazy mount'},
    {id: 'lazy.package.ratio', label: '  bytes fetched / those files\' compressed size', unit: 'x', target: {max: 2, text: '< 2x'}},
    {id: 'lazy.package.fetched', label: '  bytes fetched for the package', unit: 'KiB'},
    {id: 'lazy.package.compressed', label: '  the package\'s compressed size in the packs', unit: 'KiB'},
  ],
  setup(b) {
    const endpoint = startRgw(b)
    const src = b.scratch('source')
    const bucket = `velo-bench-lazy-${process.pid}`
    const url = `s3://${bucket}/npm`
    b.sh(`${b.velo} snapshot --repo ${b.q(src)} ${b.q(b.tree)} --ref npm -q`)
    b.sh(`node --input-type=module -e ${b.q(`const {S3Transport} = await import(${JSON.stringify(join(b.projectRoot, 'dist/remote/s3/S3Transport.js'))}); const {resolveS3Settings} = await import(${JSON.stringify(join(b.projectRoot, 'dist/remote/s3/awsConfig.js'))}); await new S3Transport(${JSON.stringify(bucket)}, '', resolveS3Settings({endpoint: ${JSON.stringify(endpoint)}})).createBucket()`)}`)
    b.sh(`${b.velo} remote add rgw ${url} --endpoint ${endpoint} --repo ${b.q(src)}`)
    b.sh(`${b.velo} push rgw npm --repo ${b.q(src)} -q`)
    const targets = JSON.parse(b.sh(`node ${b.q(join(b.projectRoot, 'scripts/bench/lazyTargets.js'))} ${b.q(src)} npm`))
    b.note(`lazy: deepest file ${targets.deepest}; package ${targets.package.dir}: ${targets.package.files.length} files, ${targets.package.bytes} bytes, ${targets.package.compressed} compressed`)
    Object.assign(state, {endpoint, url, targets})
  },
  round(b) {
    const {endpoint, url, targets} = state
    const repo = b.scratch('repo')
    const mnt = b.scratch('mnt')
    b.sh(`mkdir -p ${b.q(mnt)} && ${b.velo} init ${b.q(repo)} >/dev/null && ${b.velo} remote add rgw ${url} --endpoint ${endpoint} --repo ${b.q(repo)} >/dev/null`)
    const deepest = b.q(join(mnt, targets.deepest))
    try {
      // No spare mount server (it would outlive the round and keep the work directory busy; a
      // fresh repository has none anyway, which is what this row measures).
      const t = b.time('lazy.checkout', `VELO_MOUNT_SPARE=0 ${b.velo} checkout rgw/npm ${b.q(mnt)} --repo ${b.q(repo)} --json && head -c 1 ${deepest} >/dev/null`)
      const rec = JSON.parse(t.stdout.trim().split('\n').pop())
      const dir = join(repo, 'mounts', rec.id)
      const log = readFileSync(join(dir, 'serve.log'), 'utf8')
      const metaLine = /fetched the metadata of .*?: \d+ objects, (\d+) bytes in \d+ requests, (\d+) ms/.exec(log)
      if (metaLine) {
        b.value('lazy.metadata', Number(metaLine[1]) / 1024)
        b.value('lazy.metadata.ms', Number(metaLine[2]))
      }
      const ready = /ready (\d+) ms after this process started/.exec(log)
      if (ready) b.value('lazy.ready.ms', Number(ready[1]))
      const status = () => {
        b.sh('sleep 0.5') // fetch.json is written at most 200 ms after a fetch
        return JSON.parse(readFileSync(join(dir, 'fetch.json'), 'utf8'))
      }
      const before = status()
      const list = b.q(targets.package.files.map((f) => join(mnt, f)).join('\n'))
      b.time('lazy.package.read', `printf '%s\\n' ${list} | tr '\\n' '\\0' | xargs -0 cat >/dev/null`)
      const after = status()
      b.check('lazy reads did not fail', after.failures === 0, `${after.failures} failed fetches (see ${join(dir, 'serve.log')})`)
      const fetched = after.bytes - before.bytes
      b.value('lazy.package.fetched', fetched / 1024)
      b.value('lazy.package.compressed', targets.package.compressed / 1024)
      b.value('lazy.package.ratio', fetched / targets.package.compressed)
    } finally {
      b.sh(`${b.velo} unmount ${b.q(mnt)} --repo ${b.q(repo)} || fusermount -uz ${b.q(mnt)} || true`, {allowFail: true})
    }
  },
}
