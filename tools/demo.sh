#!/usr/bin/env bash
# The main job: a loopback demo of tether, installing missing Debian
# packages first. Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/ensure-deps.sh
exec bazel run --ui_event_filters=-info,-stdout,-stderr --noshow_progress \
  //examples:watch_connect -- "$@"
