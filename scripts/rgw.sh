#!/usr/bin/env bash
# rgw.sh — a throwaway single-node Ceph RADOS Gateway (S3) on loopback, for
# velo's test suite and CI.
#
#   scripts/rgw.sh install        apt-get install radosgw ceph-mon ceph-osd (+ curl)
#                                 if any needed binary is missing
#   scripts/rgw.sh start [DIR]    start mon + memstore osd + radosgw (idempotent)
#   scripts/rgw.sh stop  [DIR]    stop them (rgw, osd, mon); fine if not running
#   scripts/rgw.sh env   [DIR]    print `export` lines for the tests:
#                                   eval "$(scripts/rgw.sh env)"
#
# DIR defaults to ${VELO_RGW_DIR:-/tmp/velo-rgw}; it holds the config, the
# daemons' data, pid files and logs (DIR/log) and is wiped on every fresh start.
#
# Environment:
#   VELO_RGW_PORT        S3 port              (default 17480)
#   VELO_RGW_MON_PORT    ceph-mon port        (default 16789)
#   VELO_RGW_TIMEOUT     start deadline, in s (default 90)
#   VELO_RGW_MEM_BYTES   memstore capacity    (default 1 GiB; data lives in RAM)
#
# Everything listens on 127.0.0.1 only. No systemd is needed: the daemons are
# started by hand and daemonize themselves. Authentication inside the cluster
# is off; S3 requests are authenticated by RGW as usual (SigV2/SigV4) with
# access key VELOAK and secret VELOSECRET.
set -euo pipefail

readonly ACCESS_KEY=VELOAK
readonly SECRET_KEY=VELOSECRET
readonly REGION=us-east-1
readonly PORT=${VELO_RGW_PORT:-17480}
readonly MON_PORT=${VELO_RGW_MON_PORT:-16789}
readonly TIMEOUT=${VELO_RGW_TIMEOUT:-90}
readonly MEM_BYTES=${VELO_RGW_MEM_BYTES:-1073741824}
readonly MARKER=.velo-rgw          # marks a DIR this script created (safe to wipe)
readonly NEEDED=(ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool curl flock)

unset CEPH_ARGS CEPH_CONF          # never let the caller's ceph settings leak in

die() { echo "rgw.sh: $*" >&2; exit 1; }

for v in PORT MON_PORT TIMEOUT MEM_BYTES; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "VELO_RGW_$v must be a positive integer, not '${!v}'"
done

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2
  exit 2
}

# Resolve DIR to an absolute path (ceph.conf needs absolute paths) and refuse
# obviously dangerous values, since `start` wipes it.
resolve_dir() {
  local d=${1:-${VELO_RGW_DIR:-/tmp/velo-rgw}}
  [[ -n $d ]] || die "empty DIR"
  [[ $d == /* ]] || d=$PWD/$d
  d=$(realpath -m -- "$d")
  case $d in
    / | /tmp | /root | /home | /usr | /etc | /var | "${HOME:-/}") die "refusing to use $d as DIR" ;;
  esac
  DIR=$d
  CONF=$DIR/ceph.conf
  LOG=$DIR/log
  RUN=$DIR/run
}

# ---------------------------------------------------------------- processes

# The pid in DIR/run/NAME.pid if that process is alive and really is a ceph
# daemon of this DIR (guards against stale pid files and pid reuse).
daemon_pid() {
  local pid
  pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && is_ours "$pid" && echo "$pid"
}

# Is PID a process started with `-c DIR/ceph.conf`?
is_ours() {
  local cmdline
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ " $cmdline " == *" -c $CONF "* ]]
}

# Every live process started with our config (covers daemons whose pid file is
# gone, e.g. after a crash half-way through a start).
our_pids() {
  local p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p != "$$" ]] && is_ours "$p" && echo "$p"
  done
  return 0
}

alive() {  # PID exists and is not a zombie
  [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Terminate pids (TERM, then KILL after 15 s) and wait for them to be gone.
kill_and_wait() {
  local pid i left
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    left=0
    for pid in "$@"; do alive "$pid" && left=1; done
    ((left)) || return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    left=0
    for pid in "$@"; do alive "$pid" && left=1; done
    ((left)) || return 0
    sleep 0.1
  done
}

stop_daemons() {
  local name pid
  [[ -d $DIR ]] || return 0
  # In order: the gateway, the OSD, then the monitor they both talk to.
  for name in client.rgw.x osd.0 mon.a; do
    if pid=$(daemon_pid "$name"); then kill_and_wait "$pid"; fi
    rm -f "$RUN/$name.pid"
  done
  # Anything else still running with our config (stray daemons, hung CLIs).
  # shellcheck disable=SC2046
  kill_and_wait $(our_pids)
}

# ---------------------------------------------------------------- helpers

http_code() {  # HTTP status of GET URL, "000" if nothing answers
  curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true
}

port_busy() {  # something accepts TCP connections on 127.0.0.1:$1
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

remaining() {  # seconds left before the start deadline (at least 1)
  local r=$((DEADLINE - SECONDS))
  ((r > 0)) && echo "$r" || echo 1
}

# Run a command with output appended to the bootstrap log, bounded by the
# start deadline. fd 9 (the lock) is closed so daemons don't inherit it.
run() {
  echo "+ $*" >>"$LOG/bootstrap.log"
  timeout "$(remaining)" "$@" >>"$LOG/bootstrap.log" 2>&1 9>&-
}

# Serialize start/stop on one DIR (e.g. parallel test workers all calling
# start). The lock file sits beside DIR, since DIR itself gets wiped.
lock_dir() {
  mkdir -p "$(dirname "$DIR")"
  exec 9>"$DIR.lock"
  flock -w "$((TIMEOUT + 60))" 9 || die "timed out waiting for the lock $DIR.lock"
}

ceph_cli() { run ceph -c "$CONF" --connect-timeout "$(remaining)" "$@"; }

# Poll until "$@" succeeds or the deadline passes.
wait_for() {
  local what=$1
  shift
  while ! "$@"; do
    ((SECONDS < DEADLINE)) || fail "timed out after ${TIMEOUT}s waiting for $what"
    sleep 0.5
  done
}

# A signed S3 round trip with the real credentials: create a bucket, put and
# delete an object, delete the bucket. This also makes RGW create its bucket
# index and data pools now rather than during the first test (~2 s each).
s3_signed_ok() {
  local url="http://127.0.0.1:$PORT/velo-probe-$$-$RANDOM"
  s3_expect 200 -X PUT "$url" &&
    s3_expect 200 -X PUT --data-binary probe "$url/probe" &&
    s3_expect 204 -X DELETE "$url/probe" &&
    s3_expect 204 -X DELETE "$url"
}

s3_expect() {  # s3_expect CODE CURL-ARGS...: a signed request answers CODE
  local want=$1 code
  shift
  code=$(s3_curl "$@") || code="curl exit $?"
  [[ $code == "$want" ]] && return 0
  echo "probe: curl $* -> HTTP $code (want $want)" >>"$LOG/bootstrap.log"
  return 1
}

# curl's --aws-sigv4 (7.75+) does not send x-amz-content-sha256, which RGW
# requires for SigV4 (it answers SignatureDoesNotMatch without it).
s3_curl() {
  curl -s -o /dev/null -m 10 -w '%{http_code}' \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

osd_up() {
  local dump
  dump=$(timeout "$(remaining)" ceph -c "$CONF" --connect-timeout 10 osd dump 2>>"$LOG/bootstrap.log") &&
    [[ $dump == *$'\nosd.0 up '* ]]
}

rgw_answers() { [[ $(http_code "http://127.0.0.1:$PORT/") != 000 ]]; }

# On a failed start: say why, show the daemons' last log lines, stop them.
fail() {
  local f
  {
    echo "rgw.sh: start failed: $*"
    for f in "$LOG/bootstrap.log" "$LOG"/ceph-mon.a.log "$LOG"/ceph-osd.0.log "$LOG"/ceph-client.rgw.x.log; do
      [[ -s $f ]] || continue
      echo "---- tail of $f"
      tail -n 25 "$f"
    done
    echo "---- (full logs in $LOG)"
  } >&2
  stop_daemons
  exit 1
}

write_conf() {
  local fsid=$1
  cat >"$CONF" <<EOF
# Generated by scripts/rgw.sh — a single-node, loopback-only test cluster.
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind ipv6 = false
ms bind msgr2 = false

# No cephx inside the cluster; and never read /etc/ceph.
auth cluster required = none
auth service required = none
auth client required = none
keyring = $DIR/keyring

# One OSD: pools of size 1, few PGs, no redundancy warnings.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# Don't shut the monitor down because the disk under DIR is nearly full.
mon data avail crit = 1
# Commit monitor changes every 0.1 s instead of every 1 s: RGW creates its
# pools one by one at startup, and this cuts a start from ~19 s to ~5 s.
paxos propose interval = 0.1

osd objectstore = memstore
memstore device bytes = $MEM_BYTES
osd class update on start = false
osd crush update on start = false

# Everything under DIR.
mon data = $DIR/mon.\$id
osd data = $DIR/osd\$id
run dir = $RUN
log file = $LOG/\$cluster-\$name.log
log to stderr = false
err to stderr = false

[mon]
pid file = $RUN/\$name.pid
[osd]
pid file = $RUN/\$name.pid

[client.rgw.x]
pid file = $RUN/\$name.pid
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
rgw thread pool size = 64
EOF
}

# ---------------------------------------------------------------- commands

cmd_install() {
  local missing=() b sudo=()
  for b in "${NEEDED[@]}"; do command -v "$b" >/dev/null || missing+=("$b"); done
  if ((${#missing[@]} == 0)); then
    echo "rgw.sh: radosgw, ceph-mon and ceph-osd are installed ($(ceph_version))"
    return 0
  fi
  ((EUID == 0)) || sudo=(sudo)
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
  local pkgs=(radosgw ceph-mon ceph-osd curl util-linux)
  local log=${TMPDIR:-/tmp}/velo-rgw-install.log
  : >"$log"
  {
    # Refresh the package lists only if they don't know radosgw yet; and once
    # more if the install fails anyway (stale lists: 404s from the mirror).
    if ! apt-cache show radosgw >/dev/null 2>&1; then "${apt[@]}" update; fi
    "${apt[@]}" install -y --no-install-recommends "${pkgs[@]}" ||
      { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "${pkgs[@]}"; }
  } >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "install failed (log: $log)"; }
  for b in "${NEEDED[@]}"; do command -v "$b" >/dev/null || die "install: $b still missing"; done
  echo "rgw.sh: installed radosgw, ceph-mon and ceph-osd ($(ceph_version))"
}

ceph_version() { radosgw --version | awk '{print $3}'; }

# Is the RGW of DIR up: all three daemons alive and S3 answering on PORT?
running() {
  [[ -f $DIR/$MARKER ]] && daemon_pid mon.a >/dev/null && daemon_pid osd.0 >/dev/null &&
    daemon_pid client.rgw.x >/dev/null && rgw_answers
}

cmd_start() {
  local b
  for b in "${NEEDED[@]}"; do
    command -v "$b" >/dev/null || die "$b not found; run: scripts/rgw.sh install"
  done
  lock_dir
  if [[ -f $DIR/velo-rgw.env ]] && grep -qx "PORT=$PORT" "$DIR/velo-rgw.env" && running; then
    echo "rgw.sh: already running at http://127.0.0.1:$PORT (dir $DIR)"
    return 0
  fi

  # Fresh start: stop leftovers, then wipe DIR — only if it is ours or empty.
  if [[ -e $DIR && ! -f $DIR/$MARKER ]]; then
    [[ -d $DIR && -z $(ls -A "$DIR") ]] ||
      die "$DIR exists and was not made by rgw.sh; refusing to wipe it"
  fi
  stop_daemons
  rm -rf "$DIR"
  mkdir -p "$DIR"/{mon.a,osd0,rgw} "$RUN" "$LOG"
  touch "$DIR/$MARKER"
  printf 'PORT=%s\nMON_PORT=%s\n' "$PORT" "$MON_PORT" >"$DIR/velo-rgw.env"

  local p
  for p in "$PORT" "$MON_PORT"; do
    if port_busy "$p"; then
      die "port $p on 127.0.0.1 is already in use (set VELO_RGW_PORT / VELO_RGW_MON_PORT)"
    fi
  done

  DEADLINE=$((SECONDS + TIMEOUT))
  local t0=$SECONDS fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid" || fail "cannot write $CONF"

  # Monitor. ceph-mon daemonizes once it is listening.
  run monmaptool --create --add a "v1:127.0.0.1:$MON_PORT" --fsid "$fsid" "$DIR/monmap" ||
    fail "monmaptool failed"
  run ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" || fail "ceph-mon --mkfs failed"
  run ceph-mon -c "$CONF" -i a </dev/null || fail "ceph-mon did not start"
  wait_for "ceph-mon" ceph_cli mon stat

  # One memstore OSD. memstore picks its own OSD uuid at mkfs, so register
  # whatever it wrote, then place it under a host bucket in the CRUSH map.
  run ceph-osd -c "$CONF" -i 0 --mkfs || fail "ceph-osd --mkfs failed"
  ceph_cli osd new "$(cat "$DIR/osd0/fsid")" 0 || fail "ceph osd new failed"
  ceph_cli osd crush add-bucket h host || fail "crush add-bucket failed"
  ceph_cli osd crush move h root=default || fail "crush move failed"
  ceph_cli osd crush add osd.0 1.0 host=h || fail "crush add failed"
  run ceph-osd -c "$CONF" -i 0 </dev/null || fail "ceph-osd did not start"
  wait_for "osd.0 to be up" osd_up

  # The gateway creates its pools on first start, then listens.
  run radosgw -c "$CONF" -n client.rgw.x </dev/null || fail "radosgw did not start"
  wait_for "radosgw on port $PORT" rgw_answers

  run radosgw-admin -c "$CONF" user create --uid=velo --display-name=velo \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" || fail "radosgw-admin user create failed"
  wait_for "a signed S3 request to succeed" s3_signed_ok

  echo "rgw.sh: S3 ready at http://127.0.0.1:$PORT in $((SECONDS - t0))s (dir $DIR)"
}

cmd_stop() {
  lock_dir
  stop_daemons
  echo "rgw.sh: stopped (dir $DIR)"
}

cmd_env() {
  local port=$PORT
  # Prefer the port the instance in DIR was actually started with.
  if [[ -f $DIR/velo-rgw.env ]]; then
    port=$(sed -n 's/^PORT=//p' "$DIR/velo-rgw.env")
    port=${port:-$PORT}
  fi
  cat <<EOF
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=$REGION
export VELO_S3_ENDPOINT=http://127.0.0.1:$port
export VELO_TEST_S3=1
EOF
}

main() {
  (($# >= 1)) || usage
  local cmd=$1
  shift
  case $cmd in
    install) (($# == 0)) || usage; cmd_install ;;
    start | stop | env)
      (($# <= 1)) || usage
      resolve_dir "${1:-}"
      "cmd_$cmd"
      ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
