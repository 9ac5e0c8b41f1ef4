#!/usr/bin/env bash
# Soak test (outside CI): for MINUTES (default 30), rounds of snapshots of changing trees, gc
# (--prune now), repack and fsck --max-duration running at once, some of them killed with -9 at a
# random moment. After every round: `velo fsck` must be clean, and every snapshot that reported
# success must hold exactly its tree (`velo diff REF DIR` empty). Stops at the first failure and
# keeps the work directory for inspection; removes it on success.
#
#   bash scripts/soak.sh [MINUTES]        (needs `npm run build`; SOAK_DIR=... to choose the place)
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
work=${SOAK_DIR:-$(mktemp -d /tmp/velo-soak-XXXXXX)}
repo=$work/repo
export VELO_FSYNC=${VELO_FSYNC:-0} NO_COLOR=1 VELO_LOCK_WAIT=${VELO_LOCK_WAIT:-120}
velo() { node bin/run.js "$@"; }
log() { printf 'soak %s: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAILED: $*"; log "work directory kept: $work"; exit 1; }

# Trees: a few hundred small files in nested directories, a chunked file, symlinks; each round
# rewrites some files, adds and removes others (deterministic per round).
mutate() { # DIR ROUND
  node -e '
    const fs = require("fs"), path = require("path"), crypto = require("crypto")
    const [dir, round] = [process.argv[1], Number(process.argv[2])]
    const rnd = (s) => crypto.createHash("sha256").update(String(s)).digest()
    for (let i = 0; i < 300; i++) {
      const p = path.join(dir, `d${i % 7}`, `e${i % 3}`, `f${i}.txt`)
      fs.mkdirSync(path.dirname(p), {recursive: true})
      if (round === 0 || rnd(`${round}-${i}`)[0] < 20) fs.writeFileSync(p, rnd(`${round}-${i}`).toString("hex").repeat(1 + (i % 40)))
    }
    const gone = path.join(dir, `gone-${round - 1}.txt`)
    if (fs.existsSync(gone)) fs.rmSync(gone)
    fs.writeFileSync(path.join(dir, `gone-${round}.txt`), `round ${round}\n`)
    if (round % 4 === 0) fs.writeFileSync(path.join(dir, "big.bin"), Buffer.concat(Array.from({length: 80}, (_, k) => crypto.createHash("sha512").update(`${round}-${k}`).digest()).flatMap((b) => Array(600).fill(b))))
    if (!fs.existsSync(path.join(dir, "link"))) fs.symlinkSync("d0/e0/f0.txt", path.join(dir, "link"))
  ' "$1" "$2"
}

mkdir -p "$work"
log "work directory $work, running for $minutes minutes"
for t in 0 1 2; do mkdir -p "$work/tree$t"; mutate "$work/tree$t" 0; done
velo snapshot "$work/tree0" --repo "$repo" --ref t/0 >/dev/null || fail "first snapshot"

end=$(( $(date +%s) + minutes * 60 ))
round=0
while [ "$(date +%s)" -lt "$end" ]; do
  round=$((round + 1))
  for t in 0 1 2; do mutate "$work/tree$t" "$round"; done
  pids=(); names=()
  for t in 0 1 2; do
    velo snapshot "$work/tree$t" --repo "$repo" --ref "t/$t" --json >"$work/out-$t" 2>"$work/err-$t" & pids+=($!); names+=("snapshot t/$t")
  done
  [ $((round % 2)) -eq 0 ] && { velo gc --prune now --reflog-expire 1h --repo "$repo" >"$work/out-gc" 2>&1 & pids+=($!); names+=(gc); }
  [ $((round % 3)) -eq 0 ] && { velo repack --repo "$repo" >"$work/out-repack" 2>&1 & pids+=($!); names+=(repack); }
  velo fsck --max-duration 1s --repo "$repo" >/dev/null 2>&1 & pids+=($!); names+=("fsck --max-duration")
  # Kill one of them at a random moment (most rounds).
  victim=-1
  if [ $((RANDOM % 4)) -ne 0 ]; then
    victim=$((RANDOM % ${#pids[@]}))
    sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
    kill -9 "${pids[$victim]}" 2>/dev/null && log "round $round: killed ${names[$victim]}"
  fi
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}"; rc=$?
    if [ "$i" -ne "$victim" ] && [ $rc -ne 0 ] && [ "${names[$i]}" != "fsck --max-duration" ]; then
      fail "round $round: ${names[$i]} exited $rc: $(cat "$work"/err-* "$work"/out-gc "$work"/out-repack 2>/dev/null | tail -5)"
    fi
  done
  velo fsck --repo "$repo" >"$work/fsck" 2>&1 || fail "round $round: fsck: $(tail -20 "$work/fsck")"
  for t in 0 1 2; do
    if [ "$victim" -ne "$t" ] && grep -q '"type":"summary"' "$work/out-$t"; then
      d=$(velo diff "t/$t" "$work/tree$t" --repo "$repo") || fail "round $round: diff t/$t"
      [ -z "$d" ] || fail "round $round: t/$t does not hold its tree: $d"
    fi
  done
  [ $((round % 10)) -eq 0 ] && log "round $round: fine ($(ls "$repo/packs" | wc -l) pack files)"
done
log "$round rounds, no problem"
rm -rf "$work"
