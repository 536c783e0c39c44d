#!/usr/bin/env bash
# tether's CMake build end to end, in a temporary directory: configure,
# build (-j2, tether's own targets with -Werror), run the tests with ctest,
# install to a temporary prefix, then build and run this consumer against
# the installed package: with find_package(tether), and with pkg-config as
# C++17, C++20 and C++23 (the consumer picks its standard), and the Tcl
# package with `package require tether` (tcl_consumer.tcl). Last, each
# public header alone, with g++ and clang++, -Wall -Wextra -Wconversion
# -Werror, in the three standards.
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
  -DCMAKE_INSTALL_PREFIX="$prefix" -DTETHER_WERROR=ON >/dev/null
step "build tether (-Werror)"
cmake --build "$build" -j2
step "ctest"
(cd "$build" && ctest -j2 --output-on-failure)
step "install to $prefix"
cmake --install "$build" >/dev/null
find "$prefix" -type f | sed "s|^$prefix/|  |" | sort

if [ -f "$prefix/lib/tcltk/tether0.1.0/pkgIndex.tcl" ]; then
  step "consumer: package require tether (Tcl) from the install tree"
  TCLLIBPATH="$prefix/lib/tcltk" tclsh8.6 "$root/examples/cmake_consumer/tcl_consumer.tcl"
else
  echo "no Tcl package installed (TETHER_BUILD_TCL off: tcl8.6-dev missing?)"
fi

step "consumer: find_package(tether)"
cmake -S "$root/examples/cmake_consumer" -B "$consumer" "${gen[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$consumer" -j2 >/dev/null
"$consumer/sort_with_tether"

pc=$(find "$prefix" -name tether.pc)
export PKG_CONFIG_PATH=${pc%/*}
stds=(c++17 c++20 c++23)
for std in "${stds[@]}"; do
  step "consumer: pkg-config tether, -std=$std"
  # shellcheck disable=SC2046
  c++ -std="$std" -o "$work/sort_pc" "$root/examples/cmake_consumer/sort_with_tether.cc" \
    $(pkg-config --cflags --libs tether)
  "$work/sort_pc" >/dev/null
done

step "public headers alone: -Wall -Wextra -Wconversion -Werror"
for cxx in g++ clang++; do
  command -v "$cxx" >/dev/null || { echo "$cxx: not installed" >&2; exit 1; }
  for std in "${stds[@]}"; do
    # clang 14 (bookworm) knows C++23 only as c++2b.
    [ "$cxx" = clang++ ] && [ "$std" = c++23 ] && std=c++2b
    for h in "$prefix"/include/tether/*.h; do
      echo "#include \"tether/${h##*/}\"" |
        "$cxx" -std="$std" -fsyntax-only -Wall -Wextra -Wconversion -Werror \
          $(pkg-config --cflags tether) -x c++ -
    done
    echo "  $cxx -std=$std: $(ls "$prefix"/include/tether/*.h | wc -l) headers clean"
  done
done
echo "cmake: tests passed (-Werror); the installed package works with find_package"
echo "and with pkg-config as C++17/20/23; the public headers are warning-free"
