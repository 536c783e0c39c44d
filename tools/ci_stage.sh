#!/usr/bin/env bash
# Runs a CI stage that is not `bazel test` and reports it the way
# `bazel test` reports a target, so .ci/run's counters see it:
#   //ci:NAME  PASSED   (or FAILED)
# and, for every ctest result in the output, //cmake:TEST PASSED/FAILED.
# Usage: tools/ci_stage.sh NAME COMMAND [ARG...]; exits with COMMAND's status.
set -uo pipefail
name=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}

# ctest: "12/22 Test #12: fd_stream_test ....   Passed    0.3 sec"
sed -nE 's/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: +([^ ]+) +\.+ *(\*+)?(Passed|Failed|Timeout|Exception|Exit code|Subprocess).*/\1 \3/p' "$out" |
  while read -r test result; do
    [ "$result" = Passed ] && result=PASSED || result=FAILED
    printf '//cmake:%-40s %s\n' "$test" "$result"
  done
printf '//ci:%-43s %s\n' "$name" "$([ "$rc" -eq 0 ] && echo PASSED || echo FAILED)"
exit "$rc"
