#!/usr/bin/env bash
# Installs what jobfsm needs on a fresh Debian machine; does nothing that is
# already there. Go modules come from the module proxy, the rest from Debian.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"
need=()
command -v qemu-storage-daemon >/dev/null || need+=(qemu-system-common)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v dot >/dev/null || need+=(graphviz)
command -v java >/dev/null || need+=(default-jre-headless)
command -v socat >/dev/null || need+=(socat)
if ((${#need[@]})); then
  echo "setup: installing ${need[*]} with apt-get" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
go mod download
