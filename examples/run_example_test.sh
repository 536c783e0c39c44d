#!/bin/sh
# Runs an example with no arguments (it then uses loopback servers of its
# own) and checks that it exits 0. Usage: run_example_test.sh PROGRAM
"$1" || { echo "FAIL: $1 exited $?" >&2; exit 1; }
