#!/usr/bin/env node
// Remote benchmark: `velo push` of the npm-tree snapshot to a real Ceph RGW on loopback, against
// uploading the very same pack files with a plain S3 client (aws4fetch PUTs, as many in parallel
// as velo uses), in the same run, interleaved. Prints one JSON object. Needs `npm run build`.
//
//   node scripts/bench-remote.js [--corpus DIR] [--rounds N] [--repo DIR] [--endpoint-from-env]
//
// By default the script starts its own Ceph RGW (scripts/rgw.sh, in its own directory, on its own
// ports, with a 3 GiB memory store: RGW frees deleted objects only hours later, so the benchmark
// must not fill the test suite's instance) and stops it at the end. --endpoint-from-env uses
// VELO_S3_ENDPOINT + AWS_* instead (eval "$(bash scripts/rgw.sh env)"). A scratch repository with
// one snapshot of the corpus is made in a temp dir (or --repo, kept between runs to skip the snapshot).
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
process.env.VELO_FSYNC ??= '0'
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const {values: opt} = parseArgs({
  options: {
    corpus: {type: 'string', default: process.env.VELO_BENCH_CORPUS ?? '/tmp/velo-bench/corpus-a/node_modules'},
    rounds: {type: 'string', default: '3'},
    repo: {type: 'string'},
    'endpoint-from-env': {type: 'boolean'},
  },
})
const log = (m) => process.stderr.write(`bench-remote: ${m}\n`)

const rgwEnv = {...process.env, VELO_RGW_DIR: '/tmp/velo-rgw-bench', VELO_RGW_PORT: '17490', VELO_RGW_MON_PORT: '16790', VELO_RGW_MEM_BYTES: String(3 * 2 ** 30)}
const ownRgw = !opt['endpoint-from-env']
if (ownRgw) {
  log('starting a Ceph RGW for the benchmark (scripts/rgw.sh start, /tmp/velo-rgw-bench, port 17490)')
  execFileSync('bash', [join(root, 'scripts/rgw.sh'), 'start'], {stdio: ['ignore', 'ignore', 'inherit'], env: rgwEnv})
  const env = execFileSync('bash', [join(root, 'scripts/rgw.sh'), 'env'], {encoding: 'utf8', env: rgwEnv})
  for (const m of env.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]] = m[2].replace(/^'|'$/g, '')
} else if (!process.env.VELO_S3_ENDPOINT) {
  throw new Error('--endpoint-from-env: VELO_S3_ENDPOINT is not set (eval "$(bash scripts/rgw.sh env)")')
}
if (!existsSync(opt.corpus)) throw new Error(`corpus ${opt.corpus} does not exist (--corpus DIR)`)

const dist = (p) => import(join(root, 'dist', p))
const [{snapshot}, {push}, {Repository, initRepository}, {addRemote, listRemotes, removeRemote}, {S3Transport}, {resolveS3Settings}, {AwsV4Signer}] = await Promise.all([
  dist('api/snapshot.js'), dist('api/push.js'), dist('repo/Repository.js'), dist('remote/RemoteConfig.js'),
  dist('remote/s3/S3Transport.js'), dist('remote/s3/awsConfig.js'), import('aws4fetch'),
])

const work = mkdtempSync(join(tmpdir(), 'velo-bench-remote-'))
const repoDir = opt.repo ? resolve(opt.repo) : join(work, 'repo')
const settings = resolveS3Settings({})
const bucket = `velo-bench-${process.pid}-${Date.now().toString(36)}`
const admin = new S3Transport(bucket, '', settings)

try {
  if (!existsSync(join(repoDir, 'velo.json'))) initRepository(repoDir)
  const repo = Repository.open(repoDir)
  let snap = repo.refs.read('bench/corpus')
  if (!snap) {
    log(`snapshot of ${opt.corpus} into ${repoDir}`)
    snap = (await snapshot(repo, {dir: opt.corpus, ref: 'bench/corpus'})).id
  }
  await admin.createBucket()

  // The plain client: one signed PUT per file, `parallel` at a time, from files in the page cache.
  const plainUpload = async (files, prefix, parallel) => {
    const creds = settings.credentials
    let next = 0
    let bytes = 0
    const worker = async () => {
      while (next < files.length) {
        const f = files[next++]
        const body = readFileSync(f.path)
        const url = `${settings.endpoint}/${bucket}/${prefix}/${f.key}`
        const req = await new AwsV4Signer({url, method: 'PUT', body, service: 's3', region: settings.region, accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey}).sign()
        const res = await fetch(req.url, {method: 'PUT', headers: req.headers, body})
        await res.arrayBuffer()
        if (!res.ok) throw new Error(`plain PUT ${f.key}: HTTP ${res.status}`)
        bytes += body.length
      }
    }
    await Promise.all(Array.from({length: parallel}, worker))
    return bytes
  }

  const rounds = Number(opt.rounds)
  const pushes = []
  const plains = []
  let files
  const spec = (prefix) => ({url: `s3://${bucket}/${prefix}`, endpoint: settings.endpoint})
  const runPush = async (r) => {
    // velo push into a fresh prefix (an empty remote: everything goes)
    const prefix = `push-${r}`
    if (listRemotes(repo).some((x) => x.name === prefix)) removeRemote(repo, prefix) // a kept --repo
    addRemote(repo, prefix, spec(prefix).url, {endpoint: settings.endpoint})
    const t0 = performance.now()
    const res = await push(repo, {remote: prefix, refs: ['bench/corpus']})
    const secs = (performance.now() - t0) / 1000
    pushes.push({round: r, seconds: secs, bytes: res.bytes, packs: res.packs, objects: res.objects, MBps: res.bytes / 1e6 / secs})
    log(`push ${r + 1}: ${res.packs} packs, ${(res.bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s`)
    if (!files) {
      // The same files: the pack and index files that push wrote, fetched back once (not timed).
      const listing = await admin.list(`${prefix}/packs/`)
      files = []
      for (const o of listing) {
        const key = o.key.slice(prefix.length + 1)
        const name = key.slice('packs/'.length)
        let path = join(repoDir, 'packs', name)
        if (!existsSync(path) || statSync(path).size !== o.size) {
          path = join(work, name)
          writeFileSync(path, (await admin.get(o.key)).data)
        }
        files.push({key, path, size: o.size})
      }
      files.sort((a, b) => a.key.localeCompare(b.key))
    }
  }
  const runPlain = async (r) => {
    const t1 = performance.now()
    const bytes = await plainUpload(files, `plain-${r}`, 4)
    const psecs = (performance.now() - t1) / 1000
    plains.push({round: r, seconds: psecs, bytes, files: files.length, MBps: bytes / 1e6 / psecs})
    log(`plain ${r + 1}: ${files.length} files, ${(bytes / 1e6).toFixed(1)} MB in ${psecs.toFixed(2)} s`)
  }
  for (let r = 0; r < rounds; r++) {
    // Interleaved, and the order alternates so that neither side always goes first.
    if (r % 2 === 1) {
      await runPlain(r)
      await runPush(r)
    } else {
      await runPush(r)
      await runPlain(r)
    }
    // Free RGW's memory store between rounds.
    for (const o of await admin.list('')) await admin.delete(o.key)
  }
  repo.close()
  // Both send the same files (velo's packs and indexes), so throughput compares as time: the
  // ratio is plain seconds / push seconds, per round (interleaved), and of the medians.
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]
  const out = {
    bench: 'remote-push',
    corpus: opt.corpus,
    snapshot: snap,
    endpoint: settings.endpoint,
    loadavg: loadavg().map((x) => Number(x.toFixed(2))),
    rounds,
    push: pushes,
    plain: plains,
    pushSeconds: median(pushes.map((p) => p.seconds)),
    plainSeconds: median(plains.map((p) => p.seconds)),
    roundRatios: pushes.map((p) => Number((plains.find((x) => x.round === p.round).seconds / p.seconds).toFixed(3))),
  }
  out.pushMBps = out.push[0].bytes / 1e6 / out.pushSeconds
  out.plainMBps = out.plain[0].bytes / 1e6 / out.plainSeconds
  out.ratio = out.plainSeconds / out.pushSeconds
  out.target = 0.8
  out.pass = out.ratio >= 0.8
  process.stdout.write(JSON.stringify(out, null, 2) + '\n')
} finally {
  try {
    for (const o of await admin.list('')) await admin.delete(o.key)
    await admin.deleteBucket()
  } catch (err) {
    log(`cleanup: ${err.message}`)
  }
  rmSync(work, {recursive: true, force: true})
  if (ownRgw) execFileSync('bash', [join(root, 'scripts/rgw.sh'), 'stop'], {stdio: ['ignore', 'ignore', 'inherit'], env: rgwEnv})
}
