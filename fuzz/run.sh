#!/usr/bin/env bash
# Builds tether's libFuzzer targets with clang (-fsanitize=fuzzer,address,
# undefined) straight from the sources, and runs each for a bounded time.
#
#   fuzz/run.sh [-t SECONDS] [-b] [TARGET...]
#
#   -t SECONDS  run each target for this long (default 30; 0: build only)
#   -b          build only
#   TARGET      address_parse_fuzzer, connect_options_fuzzer,
#               scripted_connect_fuzzer (default: all)
#
# Each target starts from its committed seed corpus (fuzz/corpus/TARGET,
# read-only) plus a working corpus in $FUZZ_OUT (default /tmp/tether-fuzz),
# where crash inputs also land (artifacts/TARGET/). Prints one line per
# target in the form .ci/run counts ("//fuzz:TARGET  PASSED in Ns (N
# executions)" or FAILED), and exits non-zero if any target crashed, leaked
# or violated a property. Reproduce a crash with:
#   $FUZZ_OUT/bin/TARGET $FUZZ_OUT/artifacts/TARGET/crash-...
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=30
build_only=0
while getopts "t:b" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    b) build_only=1 ;;
    *) echo "usage: $0 [-t SECONDS] [-b] [TARGET...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "$seconds" = 0 ] && build_only=1

ALL_TARGETS="address_parse_fuzzer connect_options_fuzzer scripted_connect_fuzzer"
targets=${*:-$ALL_TARGETS}

OUT=${FUZZ_OUT:-/tmp/tether-fuzz}
CXX=${CXX_FUZZ:-clang++}
mkdir -p "$OUT/bin"

if ! command -v "$CXX" >/dev/null; then
  echo "fuzz: $CXX not found (Debian: clang, libclang-rt-dev)" >&2
  exit 1
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CXXFLAGS="-std=c++17 -O1 -g -fno-omit-frame-pointer $SAN -I. -Iinclude -w"
ABSL_MODULES="absl_status absl_statusor absl_strings absl_str_format absl_time
  absl_synchronization absl_cord"
# shellcheck disable=SC2086
LIBS="$(pkg-config --libs $ABSL_MODULES) -ltbb -lpthread"

# The library and the test helpers the targets use, instrumented for
# coverage (fuzzer-no-link) and the sanitizers.
SOURCES="$(ls lib/*.cc) testing/servers.cc tests/testing/fake_resolver.cc tests/testing/loopback.cc
  tests/testing/fault_injecting_socket_ops.cc tests/testing/sink_server.cc"

# Newest header: any header change rebuilds every object.
newest_header=$(find include lib testing tests/testing -name '*.h' -printf '%T@\n' |
  sort -n | tail -1)

compile() {  # SRC OBJ
  local src=$1 obj=$2
  if [ -f "$obj" ] && [ "$obj" -nt "$src" ] &&
     [ "$(stat -c %Y "$obj")" -ge "${newest_header%.*}" ]; then
    return 0
  fi
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj.tmp" &&
    mv "$obj.tmp" "$obj"
}
export -f compile
export CXX CXXFLAGS newest_header

# Objects per compiler and flags, so a change of either rebuilds them.
OBJ="$OUT/obj-$(echo "$CXX $CXXFLAGS" | md5sum | cut -c1-8)"
mkdir -p "$OBJ"
build_start=$(date +%s)
objs=""
jobs_file=$(mktemp)
trap 'rm -f "$jobs_file"' EXIT
for src in $SOURCES; do
  obj="$OBJ/$(echo "$src" | tr / _).o"
  objs="$objs $obj"
  echo "$src $obj" >>"$jobs_file"
done
if ! xargs -P "$(nproc)" -L 1 bash -c 'compile "$0" "$1"' <"$jobs_file"; then
  echo "fuzz: compiling the library failed" >&2
  exit 1
fi
for t in $targets; do
  if [ ! -f "fuzz/$t.cc" ]; then
    echo "fuzz: no such target: $t" >&2
    exit 2
  fi
  # shellcheck disable=SC2086
  if ! $CXX $CXXFLAGS -fsanitize=fuzzer "fuzz/$t.cc" $objs $LIBS \
      -o "$OUT/bin/$t"; then
    echo "fuzz: building $t failed" >&2
    exit 1
  fi
done
echo "fuzz: built $targets in $(( $(date +%s) - build_start )) s"
[ "$build_only" = 1 ] && exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for t in $targets; do
  mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t" "fuzz/corpus/$t"
  log="$OUT/$t.log"
  start=$(date +%s)
  "$OUT/bin/$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t/" \
      "$OUT/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    printf '%-50s PASSED in %ss (%s executions)\n' "//fuzz:$t" "$took" \
      "${execs:-?}"
  else
    failed=$((failed + 1))
    printf '%-50s FAILED in %ss (exit %s; log %s)\n' "//fuzz:$t" "$took" \
      "$rc" "$log"
    grep -E 'ERROR|property violated|SUMMARY|artifact|Test unit written' \
      "$log" | head -20
  fi
done
[ "$failed" -eq 0 ]
