#!/usr/bin/env bash
# tether's CMake build end to end, in a temporary directory: configure,
# build (-j2), run the tests with ctest, install to a temporary prefix, then
# build and run this consumer against the installed package twice: with
# find_package(tether) and with pkg-config.
# Usage: examples/cmake_consumer/build_and_run.sh [WORKDIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
[ $# -ge 1 ] || trap 'rm -rf "$work"' EXIT
build=$work/build prefix=$work/prefix consumer=$work/consumer
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)

step() { echo "--- $* ($(date +%T))"; }

step "configure tether"
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
step "build tether"
cmake --build "$build" -j2
step "ctest"
(cd "$build" && ctest -j2 --output-on-failure)
step "install to $prefix"
cmake --install "$build" >/dev/null
find "$prefix" -type f | sed "s|^$prefix/|  |" | sort

step "consumer: find_package(tether)"
cmake -S "$root/examples/cmake_consumer" -B "$consumer" "${gen[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$consumer" -j2 >/dev/null
"$consumer/sort_with_tether"

step "consumer: pkg-config tether"
pc=$(find "$prefix" -name tether.pc)
export PKG_CONFIG_PATH=${pc%/*}
# shellcheck disable=SC2046
c++ -o "$work/sort_pc" "$root/examples/cmake_consumer/sort_with_tether.cc" \
  $(pkg-config --cflags --libs tether)
"$work/sort_pc"
echo "cmake: tests passed, installed package works with find_package and pkg-config"
