#!/usr/bin/env bash
# `npm test`: every test against real components. Installs the Debian packages the tests need
# when run as root (FUSE, Ceph RGW, git, tar, bsdtar, b3sum, tmux, zsh), starts a real Ceph RGW on
# loopback, builds, type-checks (tests included), runs vitest and prints "N passed, N failed, N skipped".
# Extra arguments go to vitest (e.g. npm test -- test/e2e).
set -uo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need_pkgs=()
command -v fusermount3 >/dev/null || command -v fusermount >/dev/null || need_pkgs+=(fuse3)
ldconfig -p 2>/dev/null | grep -q 'libfuse.so.2 ' || need_pkgs+=(libfuse2)
command -v git >/dev/null || need_pkgs+=(git)
command -v tar >/dev/null || need_pkgs+=(tar)
command -v bsdtar >/dev/null || need_pkgs+=(libarchive-tools)
command -v b3sum >/dev/null || need_pkgs+=(b3sum)
command -v zstd >/dev/null || need_pkgs+=(zstd)
command -v tmux >/dev/null || need_pkgs+=(tmux)
command -v zsh >/dev/null || need_pkgs+=(zsh)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v radosgw >/dev/null || need_pkgs+=(radosgw ceph-mon ceph-osd)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test: missing Debian packages: ${need_pkgs[*]} (run as root, or: sudo apt-get install ${need_pkgs[*]})" >&2
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
  fi
  echo "test: installing ${need_pkgs[*]}"
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null; } \
    || { echo "test: apt-get install failed" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
fi
# velo deps is tested with real pnpm (test/e2e/deps.test.ts); from the npm registry, pinned.
if ! command -v pnpm >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "test: pnpm is missing (run as root, or: npm i -g pnpm@12.4.2)" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1
  fi
  echo "test: installing pnpm@12.4.2"
  npm i -g --silent pnpm@12.4.2 >/dev/null 2>&1 || { echo "test: npm i -g pnpm@12.4.2 failed" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
fi
if [ ! -e /dev/fuse ]; then
  echo "test: /dev/fuse is missing: the FUSE tests cannot run" >&2
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

if [ -z "${VELO_S3_ENDPOINT:-}" ]; then
  bash scripts/rgw.sh start || { echo "test: could not start Ceph RGW" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
  eval "$(bash scripts/rgw.sh env)"
  trap 'bash scripts/rgw.sh stop >/dev/null 2>&1 || true' EXIT
fi
export VELO_TEST_FUSE=1 VELO_TEST_S3=1 NO_COLOR=1

rm -f vitest.json
if ! npm run --silent build; then echo "test: build failed" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; fi
if ! npm run --silent typecheck; then echo "test: type check failed" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; fi
npx vitest run --reporter=default --reporter=json --outputFile.json=vitest.json "$@"
rc=$?
if [ -f vitest.json ]; then
  node -e "const r=require('./vitest.json');console.log(r.numPassedTests+' passed, '+r.numFailedTests+' failed, '+(r.numPendingTests+r.numTodoTests)+' skipped');if(r.numTotalTests===0)process.exit(1)" || rc=1
else
  echo "0 passed, 1 failed, 0 skipped"
  [ $rc -eq 0 ] && rc=1
fi
exit $rc
