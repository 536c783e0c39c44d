#!/usr/bin/env bash
# Checks that the CMake build and the Bazel build name the same files:
# the library (lib/, include/tether/), the loopback servers (testing/),
# the test helpers, the tests (and
# which are manual), tether-probe with its tests, and the Tcl package (tcl/).
#
# Bazel's side comes from `bazel query` over the BUILD files; CMake's from
# cmake/tether_sources.cmake in script mode (no configure, no build). Prints
# the difference and exits 1 when they drift.
set -euo pipefail
cd "$(dirname "$0")/.."

# query GROUP EXPR: Bazel labels as "GROUP path" lines.
query() {
  bazel query --output=label --noshow_progress "$2" 2>/dev/null |
    sed -e 's|^//||' -e 's|^:||' -e 's|:|/|' -e "s|^|$1 |"
}

bazel_lists() {
  query library 'labels(srcs, //:tether) + labels(hdrs, //:tether)'
  query servers 'labels(srcs, //testing:servers) + labels(hdrs, //testing:servers)'
  query testing 'labels(srcs, kind(cc_library, //tests/testing:*)) + labels(hdrs, kind(cc_library, //tests/testing:*))'
  query tests 'labels(srcs, kind(cc_test, //tests:*))'
  query manual 'attr(tags, "manual|benchmark", kind(cc_test, //tests:*))'
  query probe 'labels(srcs, //tools/probe:probe_lib) + labels(hdrs, //tools/probe:probe_lib) + labels(srcs, //tools/probe:tether-probe)'
  query probe_tests 'labels(srcs, kind(cc_test, //tools/probe:*))'
  query tcl 'labels(srcs, //tcl:tether_tcl_lib) + labels(hdrs, //tcl:tether_tcl_lib)'
  query tcl_tests 'labels(srcs, kind(cc_test, //tcl:*))'
}

cmake_lists() {
  cmake -DTETHER_SOURCE_DIR="$PWD" -P cmake/print_sources.cmake 2>&1 |
    sed -n 's/^-- //p'
}

bazel_out=$(bazel_lists | sort)
cmake_out=$(cmake_lists | sort)
[ -n "$bazel_out" ] || { echo "check_sources: bazel query returned nothing" >&2; exit 1; }
if [ "$bazel_out" != "$cmake_out" ]; then
  echo "check_sources: the CMake and Bazel source lists differ" >&2
  echo "(< only in Bazel, > only in CMake; see cmake/tether_sources.cmake)" >&2
  diff <(echo "$bazel_out") <(echo "$cmake_out") | grep '^[<>]' >&2
  exit 1
fi
echo "check_sources: CMake and Bazel name the same $(echo "$bazel_out" | wc -l) files"
