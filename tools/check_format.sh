#!/usr/bin/env bash
# Checks that tether's C++ sources follow .clang-format (Debian's
# clang-format 14; installed if missing) and lists the files that do not.
# Usage: tools/check_format.sh [--fix] [FILE...]
#   default: every *.cc and *.h in git, under lib/ include/ tests/ tools/
#   benchmarks/ examples/ fuzz/ testing/ tcl/; --fix reformats the offending files.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
[ "${1:-}" = --fix ] && { fix=1; shift; }
command -v clang-format >/dev/null || tools/ensure-deps.sh clang-format
if [ $# -eq 0 ]; then
  mapfile -t files < <(git ls-files -- 'lib/*.cc' 'lib/*.h' 'include/*.h' \
    'tests/*.cc' 'tests/*.h' 'tools/*.cc' 'tools/*.h' 'benchmarks/*.cc' \
    'benchmarks/*.h' 'examples/*.cc' 'examples/*.h' 'fuzz/*.cc' 'fuzz/*.h' \
    'testing/*.cc' 'testing/*.h' \
    'tcl/*.cc' 'tcl/*.h')
else
  files=("$@")
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -eq 0 ]; then
  echo "format: ${#files[@]} files follow .clang-format"
  exit 0
fi
if [ "$fix" -eq 1 ]; then
  clang-format -i "${bad[@]}"
  printf 'reformatted: %s\n' "${bad[@]}"
  exit 0
fi
printf 'not formatted: %s\n' "${bad[@]}"
echo "format: ${#bad[@]} of ${#files[@]} files differ from .clang-format;" \
  "see \`clang-format --dry-run FILE\`, fix with tools/check_format.sh --fix" >&2
exit 1
