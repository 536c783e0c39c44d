#!/usr/bin/env bash
# Installs the Debian packages tether builds with, if any is missing.
# Usage: tools/ensure-deps.sh [extra-package ...]
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

packages=(bazel-bootstrap g++ clang libclang-rt-dev iproute2 libabsl-dev libtbb-dev
          libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev pkg-config
          bsdutils tmux tcl8.6 tcl8.6-dev "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "tether needs these Debian packages; as root, run:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
$cmd >&2
