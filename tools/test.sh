#!/usr/bin/env bash
# Runs tether's whole test suite (benchmarks excluded), installing missing
# Debian packages first. Extra arguments go to `bazel test`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/ensure-deps.sh
exec bazel test //... "$@"
