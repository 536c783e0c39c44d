#!/usr/bin/env bash
# Builds and runs this consumer workspace (tether through local_repository
# and tether_deps()), then stops the Bazel server it started: that server
# is this workspace's own, not tether's.
set -euo pipefail
cd "$(dirname "$0")"
trap 'bazel shutdown' EXIT
bazel build //:hello_tether
bazel run --ui_event_filters=-info --noshow_progress //:hello_tether
