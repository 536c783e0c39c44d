#!/usr/bin/env bash
# The main job: `tether-probe --demo`, installing missing Debian packages
# first. It needs no network: it starts an echo server, a refusing port and
# a hanging port on loopback, probes them all at once through one
# tether::Connector (plus one bad input), and prints the table. Extra
# arguments go to tether-probe (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/ensure-deps.sh
exec bazel run --ui_event_filters=-info,-stdout,-stderr --noshow_progress \
  //tools/probe:tether-probe -- --demo "$@"
