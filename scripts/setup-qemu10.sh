#!/usr/bin/env bash
# Installs Debian 13 (trixie)'s QEMU 10.0 (qemu-storage-daemon, qemu-img,
# qemu-io) into a cache directory, the way reference §13 describes, without
# changing the system: apt-get runs on a private configuration (its own
# sources list, package lists, cache and an empty dpkg status, none of
# /etc/apt/apt.conf.d's hooks), `apt-get download` fetches the .debs and
# `dpkg -x` unpacks them into ROOT. Nothing is installed with dpkg, nothing
# runs as a maintainer script. The binaries run with trixie's own loader and
# --library-path, through the wrappers bin/qemu-storage-daemon-10.0,
# bin/qemu-img-10.0 and bin/qemu-io-10.0.
#
# Usage: scripts/setup-qemu10.sh [DIR]
#   DIR defaults to $JOBFSM_QEMU10_DIR, else
#   ${XDG_CACHE_HOME:-$HOME/.cache}/jobfsm/qemu-10.0.
# A second run finds the wrappers, checks the greeting and does nothing else.
set -euo pipefail

dir="${1:-${JOBFSM_QEMU10_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jobfsm/qemu-10.0}}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
bin="$dir/bin"
stamp="$dir/.installed"

# The packages §13 lists: the two that carry the binaries, then every
# library their ELF files load (found with `ldd` under the private loader;
# apt-get download does not resolve dependencies, so the list is explicit).
packages=(qemu-system-common qemu-utils
  libc6 libfuse3-4 libaio1t64 libglib2.0-0t64 libgnutls30t64 libnettle8t64 libhogweed6t64 libzstd1
  liburing2 libnuma1 libgmp10 zlib1g libpcre2-8-0 libp11-kit0 libidn2-0 libunistring5 libtasn1-6
  libffi8 libselinux1 libmount1 libblkid1)

# greeting prints the version object of the daemon's QMP greeting and fails
# unless it is QEMU 10.0.x.
greeting() {
  local line
  line="$(printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
    timeout 20 "$bin/qemu-storage-daemon-10.0" --chardev stdio,id=m --monitor m | sed -n 1p)" || true
  case "$line" in
  *'"QMP": {"version": {"qemu": {'*'"minor": 0,'*'"major": 10}'*) echo "setup-qemu10: greeting: $line" ;;
  *)
    echo "setup-qemu10: $bin/qemu-storage-daemon-10.0 does not greet as QEMU 10.0: ${line:-no greeting} (remove $dir to reinstall)" >&2
    return 1
    ;;
  esac
}

if [ -f "$stamp" ] && [ -x "$bin/qemu-storage-daemon-10.0" ]; then
  echo "setup-qemu10: already installed in $dir ($(cat "$stamp"))"
  greeting
  exit 0
fi

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || {
  echo "setup-qemu10: $keyring missing (package debian-archive-keyring); it signs trixie's Release file" >&2
  exit 1
}

apt="$dir/apt"
rm -rf "$apt" "$dir/debs" "$dir/root.new"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$dir/debs" "$dir/root.new"
: >"$apt/status"
cat >"$apt/trixie.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie trixie-updates
Components: main
Signed-By: $keyring

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: $keyring
EOF
# APT_CONFIG is read before /etc/apt/apt.conf.d, so pointing Dir::Etc::parts
# at an empty directory here keeps the system's hooks (docker-clean,
# packagekit) out of these runs.
cat >"$apt/apt.conf" <<EOF
Dir::Etc::parts "$apt/parts";
Dir::Etc::main "/dev/null";
Dir::Etc::sourcelist "$apt/trixie.sources";
Dir::Etc::sourceparts "$apt/parts";
Dir::Etc::preferences "/dev/null";
Dir::Etc::preferencesparts "$apt/parts";
Dir::State "$apt";
Dir::State::Lists "$apt/lists";
Dir::State::status "$apt/status";
Dir::Cache "$apt/cache";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "$(id -un)";
Acquire::Languages "none";
EOF
export APT_CONFIG="$apt/apt.conf"

start=$SECONDS
echo "setup-qemu10: apt-get update (trixie, private lists in $apt)"
apt-get update -qq
echo "setup-qemu10: apt-get download ${#packages[@]} packages"
(cd "$dir/debs" && apt-get download -qq "${packages[@]}")
for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$dir/root.new"; done
rm -rf "$dir/root"
mv "$dir/root.new" "$dir/root"

mkdir -p "$bin"
for tool in qemu-storage-daemon qemu-img qemu-io; do
  cat >"$bin/$tool-10.0" <<'EOF'
#!/bin/sh
# Runs trixie's QEMU 10.0 with trixie's own loader and libraries
# (scripts/setup-qemu10.sh wrote this file).
root="$(cd "$(dirname "$(readlink -f "$0")")/../root" && pwd)"
lib="$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu"
EOF
  echo "exec \"\$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\" --library-path \"\$lib\" \"\$root/usr/bin/$tool\" \"\$@\"" >>"$bin/$tool-10.0"
  chmod +x "$bin/$tool-10.0"
done

greeting
version="$(dpkg-deb -f "$(ls "$dir"/debs/qemu-system-common_*.deb)" Version)"
echo "qemu-system-common $version" >"$stamp"
rm -rf "$dir/debs" "$apt/cache"
echo "setup-qemu10: installed QEMU $version in $dir in $((SECONDS - start))s"
echo "setup-qemu10: wrappers: $bin/qemu-storage-daemon-10.0 $bin/qemu-img-10.0 $bin/qemu-io-10.0"
