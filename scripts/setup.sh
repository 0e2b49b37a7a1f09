#!/usr/bin/env bash
# Installs what jobfsm needs on a fresh Debian machine; does nothing that is
# already there, and says nothing then. Go modules come from the module
# proxy, the rest from Debian: the system's packages for QEMU 7.2 (the
# default version), and QEMU 10.0 unpacked into a cache directory by
# scripts/setup-qemu10.sh (reference §13; never into the system).
# Under CI=true a QEMU 10.0 that cannot be installed fails the run; outside
# CI it is a warning, and the tests that need 10.0 skip.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
need=()
command -v qemu-storage-daemon >/dev/null || need+=(qemu-system-common)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v dot >/dev/null || need+=(graphviz)
command -v java >/dev/null || need+=(default-jre-headless)
command -v socat >/dev/null || need+=(socat)
# setup-qemu10.sh checks trixie's Release file with Debian's archive key
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if ((${#need[@]})); then
  echo "setup: installing ${need[*]} with apt-get" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
go mod download

# QEMU 10.0: an installed copy only re-checks its greeting (about 0.2 s);
# those two lines are dropped so that a second run is silent. A fresh
# install streams its progress.
qemu10_dir="${QEMU10_DIR:-${JOBFSM_QEMU10_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jobfsm/qemu-10.0}}"
if ! ./scripts/setup-qemu10.sh "$qemu10_dir" |
  { grep -v -e '^setup-qemu10: already installed in ' -e '^setup-qemu10: greeting: ' || true; }; then
  if [ "${CI:-}" = true ]; then
    echo "setup: FAILED to install QEMU 10.0 into $qemu10_dir (scripts/setup-qemu10.sh, messages above); CI=true needs both QEMU 7.2 and 10.0" >&2
    exit 1
  fi
  echo "setup: warning: QEMU 10.0 is not installed in $qemu10_dir (scripts/setup-qemu10.sh failed); the tests that need it will skip" >&2
fi
