#!/usr/bin/env bash
# CI stage: tether as a Bazel module (Bzlmod), offline. Bazel 7 from Debian
# sid's bazel-bootstrap, in a sid chroot made with debootstrap from the
# Debian archive (nothing else is fetched), runs
#   bazel test --config=debian //...
#   bazel mod graph --config=debian
# and builds and runs examples/bzlmod_consumer (bazel_dep on tether).
# Run as root. The chroot is cached in $TETHER_SID_CHROOT and reused; it is
# rebuilt when missing or broken (TETHER_SID_REBUILD=1 forces it). Every mount
# is undone on every path. Extra arguments go to `bazel test`.
# Measured on a 2-vCPU VM with other builds running (load average 7-8):
# from nothing 675 s (chroot 253 s, of which debootstrap + apt ~4 min;
# tests 351 s; consumer 70 s), chroot reused but Bazel's caches empty 477 s,
# chroot and caches reused (nothing changed) 51 s. Disk: 1.5 GB.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
root=${TETHER_SID_CHROOT:-/var/cache/tether-sid-chroot}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
jobs=${TETHER_BAZEL_JOBS:-2}
# python3 and tmux: tether-probe's tests; file and zip: Bazel's test runner
# archives undeclared test outputs with them; tcl8.6-dev: //tcl (issue 19).
packages=(bazel-bootstrap g++ pkg-config libabsl-dev libtbb-dev libgtest-dev
          libgmock-dev libbenchmark-dev libcli11-dev python3 tmux file zip
          tcl8.6-dev)

t0=$(date +%s)
step() { echo "--- bzlmod: $* (at $(($(date +%s) - t0)) s)"; }

# Runs a shell command in the chroot $1, with a clean environment.
in_chroot() {
  env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive chroot "$1" sh -ec "$2"
}

# Unmounts everything mounted under directory $1, deepest first.
unmount_under() {
  local m
  for m in $(findmnt -rn -o TARGET | awk -v r="$1/" 'index($0, r) == 1' | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}

# Removes the directory tree $1, only when nothing is mounted under it (a
# bind mount of the checkout is on the same file system: --one-file-system
# alone would not stop rm there).
remove_tree() {
  unmount_under "$1"
  if findmnt -rn -o TARGET | awk -v r="$1/" 'index($0, r) == 1' | grep -q .; then
    echo "bzlmod: not removing $1: still mounted under it" >&2
    return 1
  fi
  rm -rf --one-file-system "$1"
}

# Processes whose root directory is $1 (Bazel servers left in the chroot).
procs_in() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
  done
  return 0
}

cleanup() {
  local rc=$? pid d
  # The Bazel servers hold /src and /proc open: stop them, then unmount.
  if mountpoint -q "$root/src" 2>/dev/null; then
    in_chroot "$root" 'cd /src/examples/bzlmod_consumer && bazel shutdown; cd /src && bazel shutdown' \
      >/dev/null 2>&1 || true
  fi
  for d in "$root" "$root.new"; do
    for pid in $(procs_in "$d"); do kill -9 "$pid" 2>/dev/null || true; done
    unmount_under "$d" || rc=1
  done
  if findmnt -rn -o TARGET | grep -qF "$root"; then
    echo "bzlmod: still mounted:" >&2
    findmnt -rn -o TARGET | grep -F "$root" >&2
    rc=1
  fi
  step "done, exit $rc"
  exit "$rc"
}

# The chroot is usable when it was completed (the stamp, written last, lists
# the packages installed) and its compiler and pkg-config files work.
chroot_ok() {
  [ "$(cat "$root/etc/tether-chroot" 2>/dev/null)" = "${packages[*]}" ] &&
    [ -x "$root/usr/bin/bazel" ] &&
    in_chroot "$root" 'g++ --version && pkg-config --exists absl_status tbb' >/dev/null 2>&1
}

build_chroot() {
  local new=$root.new
  step "building the sid chroot in $root from $mirror"
  if ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
  fi
  remove_tree "$new"
  timeout 1200 debootstrap --variant=minbase sid "$new" "$mirror" >"$new.log" 2>&1 ||
    { tail -20 "$new.log" >&2; return 1; }
  rm -f "$new.log"
  # sid's Release file can look expired when the clock runs ahead of the mirror.
  echo 'Acquire::Check-Valid-Until "false";' >"$new/etc/apt/apt.conf.d/99tether"
  echo "deb $mirror sid main" >"$new/etc/apt/sources.list"
  mount -t proc proc "$new/proc"
  in_chroot "$new" "apt-get update -qq && apt-get install -y -qq --no-install-recommends \
    ${packages[*]} >/dev/null && apt-get clean"
  umount "$new/proc"
  echo "${packages[*]}" >"$new/etc/tether-chroot"
  remove_tree "$root"
  mv "$new" "$root"
  step "chroot ready ($(du -sh "$root" | cut -f1))"
}

trap cleanup EXIT
mkdir -p "$(dirname "$root")"
unmount_under "$root" # leftovers of a killed run
if [ "${TETHER_SID_REBUILD:-0}" != 1 ] && chroot_ok; then
  step "reusing the sid chroot in $root"
elif [ "${TETHER_SID_REBUILD:-0}" != 1 ] && [ -s "$root/etc/tether-chroot" ] &&
  [ -x "$root/usr/bin/bazel" ]; then
  # A complete chroot from an older package list: add what is new.
  step "installing ${packages[*]} into the sid chroot in $root"
  mount -t proc proc "$root/proc"
  in_chroot "$root" "apt-get update -qq && apt-get install -y -qq --no-install-recommends \
    ${packages[*]} >/dev/null && apt-get clean"
  umount "$root/proc"
  echo "${packages[*]}" >"$root/etc/tether-chroot"
  chroot_ok || build_chroot
else
  build_chroot
fi

mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
mkdir -p "$root/src"
mount --bind "$src" "$root/src"
# Read-only: the chroot's Bazel must not write into the host's checkout.
mount -o remount,bind,ro "$root/src"
in_chroot "$root" 'bazel --version; g++ --version | head -1'

# No convenience symlinks (the checkout is read-only). The output bases stay
# in the chroot's /root/.cache, so a rerun only rebuilds what changed.
flags="--config=debian --symlink_prefix=/ --jobs=$jobs"
step "bazel test --config=debian //..."
in_chroot "$root" "cd /src && bazel test $flags $* //..."
step "bazel mod graph --config=debian"
in_chroot "$root" "cd /src && bazel mod graph --config=debian"
step "examples/bzlmod_consumer: build and run"
# tether's own overrides (.bazelrc, --config=debian) as absolute paths,
# but for its dev dependencies, which a consumer does not see.
overrides=$(sed -n 's|^common:debian \(--override_module=[^=]*=\)%workspace%|\1/src|p' .bazelrc |
  grep -vE '=(googletest|google_benchmark|cli11)=' | tr '\n' ' ')
in_chroot "$root" "cd /src/examples/bzlmod_consumer &&
  bazel run $flags $overrides --ui_event_filters=-info --noshow_progress //:refused"
