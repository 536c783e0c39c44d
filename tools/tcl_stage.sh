#!/usr/bin/env bash
# CI stage (issue 19): Tcl's own tests judge `package require tether`.
#
# Runs Tcl 8.6's tests/socket.test (all of it), chanio.test chan-io-28.6/28.7
# (half-close) and ioCmd.test iocmd-7.* twice: with Tcl's own `socket`, and
# with `tether::install` in effect (tcl/run_with_tether.tcl, also for the
# child interpreters the tests start). Prints both pass counts per file.
# Fails when a test that passes with Tcl's socket fails with tether's and is
# not listed, with its reason, in docs/semantics.md's "Tcl's tests" section
# (between the tcl-known-differences markers), or when a run breaks off.
#
# The test files come from Debian's source package tcl8.6 (`apt-get source`,
# with a deb-src line for the archive already in use), for the installed
# version, cached in $TETHER_TCL_SRC (default /var/cache/tether-tcl-src) so
# reruns do not fetch them again. Installs tcl8.6, tcl8.6-dev and tcl-thread
# if missing.
# Usage: tools/tcl_stage.sh   (as root the first time, for apt-get)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${TETHER_TCL_SRC:-/var/cache/tether-tcl-src}
work=$(mktemp -d /tmp/tether-tcl.XXXXXX)
[ -n "${TETHER_TCL_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT  # TETHER_TCL_KEEP=1 keeps the logs

say() { echo "--- tcl: $*"; }
die() { echo "tcl_stage: $*" >&2; exit 1; }

# tcl-thread: the Thread package, which socket.test's thread tests need.
tools/ensure-deps.sh tcl8.6 tcl8.6-dev tcl-thread || die "missing Debian packages"
tclsh=$(command -v tclsh8.6) || die "no tclsh8.6"

# --- Tcl's test files, for the installed Tcl ---------------------------------
version=$(dpkg-query -W -f='${Version}' tcl8.6)
tests=$cache/$version/tests
fetch_tests() {
  local list=/etc/apt/sources.list.d/tether-deb-src.sources uris
  if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uris=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    [ -n "$uris" ] || uris=$(sed -n 's/^deb \([^ ]*\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
    [ -n "$uris" ] || die "no Debian mirror in /etc/apt/sources.list*"
    . /etc/os-release
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uris" "$VERSION_CODENAME" >"$list"
    say "added $list ($uris $VERSION_CODENAME)"
  fi
  apt-get update -qq >/dev/null 2>&1
  mkdir -p "$work/src" && cd "$work/src" || die "cannot make $work/src"
  apt-get source --download-only -qq "tcl8.6=$version" >/dev/null 2>&1 ||
    die "apt-get source tcl8.6=$version failed"
  tar xzf tcl8.6_*.orig.tar.gz --wildcards '*/tests/*' || die "cannot unpack"
  mkdir -p "$cache/$version" && mv tcl8.6*/tests "$tests.new" && mv "$tests.new" "$tests"
  cd "$root" || exit 1
}
if [ ! -f "$tests/socket.test" ]; then
  say "fetching Tcl $version's test files (apt-get source tcl8.6) into $cache"
  fetch_tests
fi

# --- The package ---------------------------------------------------------------
say "bazel build //tcl:package"
bazel build --jobs=2 //tcl:package >"$work/build.log" 2>&1 ||
  { tail -20 "$work/build.log"; die "bazel build //tcl:package failed"; }
export TCLLIBPATH="$(bazel info bazel-bin 2>/dev/null)/tcl/package"
with_tether=$work/tclsh-tether
printf '#!/bin/sh\nexec %s %s "$@"\n' "$tclsh" "$root/tcl/run_with_tether.tcl" >"$with_tether"
chmod +x "$with_tether"
echo 'puts [package require tether]' | "$with_tether" >"$work/v" 2>&1 ||
  { cat "$work/v"; die "package require tether failed"; }
say "package require tether: $(cat "$work/v") from $TCLLIBPATH"

# --- Run -----------------------------------------------------------------------
# run MODE FILE [tcltest args]: MODE is tcl or tether; writes $work/MODE.FILE.
# Each run gets its own copy of the test files: the tests write scratch
# files into the current directory and run them from there.
run() {
  local mode=$1 file=$2 dir=$work/$1.$2.d
  shift 2
  local cmd=("$tclsh")
  [ "$mode" = tether ] && cmd=("$with_tether")
  cp -r "$tests" "$dir"
  (cd "$dir" && TETHER_TCL_STATS=1 TETHER_TCL_INTERPRETER=$with_tether \
     timeout 240 "${cmd[@]}" "$file" "$@") \
    >"$work/$mode.$file" 2>&1 </dev/null
  echo "exit $?" >>"$work/$mode.$file"
}
totals() {  # MODE FILE -> "passed failed skipped total"
  sed -nE 's/.*Total[[:space:]]+([0-9]+)[[:space:]]+Passed[[:space:]]+([0-9]+)[[:space:]]+Skipped[[:space:]]+([0-9]+)[[:space:]]+Failed[[:space:]]+([0-9]+).*/\2 \4 \3 \1/p' \
    "$work/$1.$2" | tail -1
}
failures() { sed -nE 's/^==== ([^ ]+) .*FAILED$/\1/p' "$work/$1.$2" | sort -u; }

known=$(sed -n '/<!-- tcl-known-differences -->/,/<!-- \/tcl-known-differences -->/p' \
          docs/semantics.md | grep -oE '`[A-Za-z_][A-Za-z0-9_-]*-[0-9][0-9.]*`' |
          tr -d '`' | sort -u)
bad=0
for file in socket.test chanio.test ioCmd.test; do
  case $file in
    socket.test) extra=() ;;
    chanio.test) extra=(-match "chan-io-28.6 chan-io-28.7") ;;
    ioCmd.test) extra=(-match "iocmd-7.*") ;;
  esac
  for mode in tcl tether; do
    say "$file with $mode's socket"
    run "$mode" "$file" "${extra[@]}"
  done
  read -r tp tf ts tt <<<"$(totals tcl "$file")"
  read -r ep ef es et <<<"$(totals tether "$file")"
  if [ -z "${tt:-}" ] || [ -z "${et:-}" ]; then
    echo "$file: a run broke off (no tcltest totals)"; tail -15 "$work/tether.$file"
    bad=1; continue
  fi
  echo "$file: Tcl's socket ${tp} passed, ${tf} failed; tether::install ${ep} passed, ${ef} failed (tcltest Total ${tt}, Skipped ${ts} / ${es})"
  sed -n 's/^tether::stats /  tether::stats in the tether run: /p' "$work/tether.$file"
  new=$(comm -13 <(failures tcl "$file") <(failures tether "$file"))
  for t in $new; do
    if grep -qxF "$t" <<<"$known"; then
      echo "  $t: fails with tether, listed in docs/semantics.md"
    else
      echo "  $t: FAILS with tether, passes with Tcl, and is not in docs/semantics.md:"
      grep -m1 -A30 -F "==== $t " "$work/tether.$file"
      bad=1
    fi
  done
done
[ "$bad" -eq 0 ] || die "a Tcl test regressed under tether"
echo "tcl: every test that passes with Tcl's socket passes with tether's, or is listed in docs/semantics.md"
