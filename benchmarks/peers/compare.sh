#!/usr/bin/env bash
# compare.sh: tether side by side with its peers, in one run.
#
# Measures loopback connects per second with K connects in flight (K = 1, 16,
# 64) for tether and for the programs in this folder (raw system calls, Boost.Asio,
# Go, Python asyncio, Tcl), interleaved (A, B, C, A, B, C, ...) over 3 rounds,
# each run against its own sink in a fresh network namespace when `ip netns`
# works; and the cost of one connect-state query next to getsockopt() and
# Tcl's fconfigure. TIP 427's use case, polling `fconfigure -connecting` over
# K=200 pending sockets without an event loop, runs with Tcl's own socket and
# with tether's Tcl package (`bazel build -c opt //tcl:package`), as does the
# cost of one fconfigure query in each. Prints markdown tables of the medians with ratios to
# tether and to the raw limit, to stdout and to results.md beside this script.
#
# Usage: benchmarks/peers/compare.sh [--quick]   (--quick: 1 round of 1 s runs)
# Installs missing Debian packages (needs root), builds the peers with g++ and
# go, and tether_peer with `bazel build -c opt`; a peer that cannot be installed
# or built is left out with a note in the output.

set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ROUNDS=3
DUR=2.5
case "${1:-}" in
  "") ;;
  --quick) ROUNDS=1 DUR=1 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
KS=(1 16 64 200)  # 200: only the two Tcl polling peers
WORK=$(mktemp -d /tmp/tether-peers.XXXXXX)
NOTES=()  # lines for the report: skipped peers, where the runs ran
SINK_PID="" NS="" HANG_PID=""

log() { echo "compare.sh: $*" >&2; }
note() { NOTES+=("$*"); log "$*"; }
cleanup() {
  [[ -n $SINK_PID ]] && kill "$SINK_PID" 2>/dev/null
  [[ -n $HANG_PID ]] && kill "$HANG_PID" 2>/dev/null
  [[ -n $NS ]] && ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Install what is missing ------------------------------------------------
TCLSH=$(command -v tclsh8.6 || command -v tclsh || true)
missing=()
[[ -f /usr/include/boost/asio.hpp ]] || missing+=(libboost-dev)
command -v go >/dev/null || missing+=(golang-go)
[[ -n $TCLSH ]] || missing+=(tcl8.6)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -qq "${missing[@]}"; } >"$WORK/apt.log" 2>&1; then
    note "apt-get install ${missing[*]} failed (see below); those peers are left out"
    tail -3 "$WORK/apt.log" >&2
  fi
  TCLSH=$(command -v tclsh8.6 || command -v tclsh || true)
fi

# --- Build ------------------------------------------------------------------
# PEERS: display order. CMD[peer]: the command before `host port K secs`.
# PEER_KS[peer]: the K values it runs at.
PEERS=()
declare -A CMD PEER_KS LABEL
add_peer() {  # name "label" "K values" command...
  local name=$1 label=$2 ks=$3
  shift 3
  PEERS+=("$name") LABEL[$name]=$label PEER_KS[$name]=$ks CMD[$name]="$*"
}
cxx() {  # output source [flags]
  local out=$1 src=$2
  shift 2
  g++ -O2 -std=c++17 -pthread -o "$WORK/$out" "$HERE/$src" "$@" \
    >"$WORK/$out.log" 2>&1 || { tail -5 "$WORK/$out.log" >&2; return 1; }
}

log "building"
cxx sink sink.cc || { log "cannot build the sink"; exit 1; }
cxx query_cost query_cost.cc || note "query_cost did not build: no getsockopt column"

TETHER=""
if (cd "$ROOT" && timeout 300 bazel build -c opt //benchmarks/peers:tether_peer) \
     >"$WORK/bazel.log" 2>&1; then
  bin="$(cd "$ROOT" && bazel info -c opt bazel-bin 2>/dev/null)/benchmarks/peers/tether_peer"
  # A copy: a later build in the tree must not swap it during the runs.
  cp "$bin" "$WORK/tether_peer" && TETHER="$WORK/tether_peer"
fi
if [[ -n $TETHER ]]; then
  add_peer tether "tether" "1 16 64" "$TETHER"
else
  note "tether rows skipped: bazel build -c opt //benchmarks/peers:tether_peer failed (the library may not compile yet); ratios to tether are n/a"
  grep -m3 -E 'error|ERROR' "$WORK/bazel.log" >&2
fi
if cxx raw_peer raw_peer.cc; then
  add_peer raw "raw (blocking loop at K=1, epoll at K>1)" "1 16 64" "$WORK/raw_peer"
else
  note "raw peer did not build: no raw-limit ratios"
fi
if cxx asio_peer asio_peer.cc; then
  add_peer asio "Boost.Asio async_connect" "1 16 64" "$WORK/asio_peer"
else
  note "Boost.Asio peer left out: asio_peer.cc did not build (libboost-dev missing?)"
fi
if command -v go >/dev/null &&
   (cd "$HERE" && GOPROXY=off GOFLAGS="" GO111MODULE=off GOCACHE="$WORK/gocache" \
      GOPATH="$WORK/gopath" go build -o "$WORK/go_peer" go_peer.go) >"$WORK/go.log" 2>&1; then
  add_peer go "Go net.Dial" "1 16 64" "$WORK/go_peer"
else
  note "Go peer left out: go missing or go build failed"
  [[ -f $WORK/go.log ]] && tail -3 "$WORK/go.log" >&2
fi
if command -v python3 >/dev/null; then
  add_peer asyncio "Python asyncio open_connection" "1 16 64" python3 "$HERE/asyncio_peer.py"
else
  note "Python asyncio peer left out: no python3"
fi
TETHER_TCL=""  # the directory of tether's Tcl package (pkgIndex.tcl)
if [[ -n $TCLSH ]] &&
   (cd "$ROOT" && timeout 300 bazel build -c opt //tcl:package) >"$WORK/bazel_tcl.log" 2>&1; then
  mkdir -p "$WORK/tether_tcl"
  cp "$(cd "$ROOT" && bazel info -c opt bazel-bin 2>/dev/null)"/tcl/package/* "$WORK/tether_tcl/" &&
    TETHER_TCL="$WORK/tether_tcl"
fi
if [[ -n $TCLSH ]]; then
  add_peer tcl_async "Tcl socket -async (event loop)" "1 16 64" "$TCLSH" "$HERE/tcl_async_peer.tcl"
  add_peer tcl_poll "Tcl -connecting polling (no event loop)" "1 200" "$TCLSH" "$HERE/tcl_poll_peer.tcl"
  if [[ -n $TETHER_TCL ]]; then
    add_peer tcl_tether_poll "Tcl -connecting polling, tether::install (no event loop)" "1 200" \
      env TETHER_TCL="$TETHER_TCL" "$TCLSH" "$HERE/tcl_poll_peer.tcl"
  else
    note "tether's Tcl package did not build (bazel build -c opt //tcl:package): its rows are left out"
  fi
else
  note "Tcl peers left out: no tclsh"
fi

# --- Where to run -----------------------------------------------------------
USE_NETNS=0
probe="tpeers-probe-$$"
if ip netns add "$probe" 2>/dev/null; then
  ip netns del "$probe" && USE_NETNS=1
fi
if ((USE_NETNS)); then
  WHERE="each run in a fresh network namespace with its own sink"
else
  WHERE="on the host network (ip netns unavailable): TIME_WAIT may carry over between runs"
  note "running on the host: ip netns add failed"
fi

# --- Run ----------------------------------------------------------------------
SEQ=0
run_one() {  # peer K -> appends the rate to $WORK/r.peer.K
  local peer=$1 k=$2 pre=() port="" out rate
  if ((USE_NETNS)); then
    NS="tpeers-$$-$((++SEQ))"
    if ! ip netns add "$NS"; then NS=""; return; fi
    ip netns exec "$NS" ip link set lo up
    pre=(ip netns exec "$NS")
  fi
  : >"$WORK/port"
  "${pre[@]}" "$WORK/sink" >"$WORK/port" &  # ip netns exec execs: $! is the sink
  SINK_PID=$!
  for _ in $(seq 50); do
    read -r port <"$WORK/port" 2>/dev/null && [[ -n $port ]] && break
    sleep 0.1
  done
  if [[ -n $port ]]; then
    # shellcheck disable=SC2086  # CMD holds a command and its arguments
    out=$(timeout $((${DUR%.*} + 20)) "${pre[@]}" ${CMD[$peer]} 127.0.0.1 "$port" "$k" "$DUR" \
            2>>"$WORK/stderr.log")
    rate=$(sed -n 's/^connects_per_sec=\([0-9.]*\)$/\1/p' <<<"$out")
  fi
  kill "$SINK_PID" 2>/dev/null
  wait "$SINK_PID" 2>/dev/null
  SINK_PID=""
  if [[ -n $NS ]]; then ip netns del "$NS"; NS=""; fi
  if [[ -n ${rate:-} ]]; then
    echo "$rate" >>"$WORK/r.$peer.$k"
    log "round $r/$ROUNDS K=$k $peer: $rate connects/s"
  else
    log "round $r/$ROUNDS K=$k $peer: no result"
  fi
}

run_query() {  # prefix command... -> appends each key=value to $WORK/q.prefix_key
  local prefix=$1 kv
  shift
  for kv in $(timeout 60 "$@" 2>>"$WORK/stderr.log"); do
    echo "${kv#*=}" >>"$WORK/q.${prefix}_${kv%%=*}"
  done
}

# A listener that never completes a connect, for -connecting while pending.
HANG_PORT=""
"$WORK/sink" --hang >"$WORK/hang_port" &
HANG_PID=$!
for _ in $(seq 50); do
  read -r HANG_PORT <"$WORK/hang_port" 2>/dev/null && [[ -n $HANG_PORT ]] && break
  sleep 0.1
done

START=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
  for k in "${KS[@]}"; do
    for peer in "${PEERS[@]}"; do
      [[ " ${PEER_KS[$peer]} " == *" $k "* ]] && run_one "$peer" "$k"
    done
  done
  [[ -n $TETHER ]] && run_query tether "$TETHER" --query
  [[ -x $WORK/query_cost ]] && run_query sys "$WORK/query_cost"
  [[ -n $TCLSH ]] && run_query tcl "$TCLSH" "$HERE/tcl_query.tcl" $HANG_PORT
  [[ -n $TETHER_TCL ]] &&
    run_query tcltether env TETHER_TCL="$TETHER_TCL" "$TCLSH" "$HERE/tcl_query.tcl" $HANG_PORT
done
if [[ -s $WORK/stderr.log ]]; then
  log "stderr of the runs (errors counted by the peers):"
  sort "$WORK/stderr.log" | uniq -c | head -20 >&2
fi

# --- Report -------------------------------------------------------------------
median() {  # file -> median of its numbers, or nothing
  [[ -s $1 ]] || return 0
  sort -g "$1" | awk '{v[NR] = $1} END {
    printf "%.6g\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() {  # a b [scale] -> a*scale/b with 2 decimals, or n/a
  [[ -n $1 && -n $2 ]] || { echo "n/a"; return; }
  awk -v a="$1" -v b="$2" -v s="${3:-1}" 'BEGIN {
    if (b <= 0) { print "n/a"; exit }
    r = a * s / b; printf (r >= 100 ? "%.0f\n" : "%.2f\n"), r }'
}
fmt() { [[ -n $1 ]] && printf "%.${2:-0}f" "$1" || echo "n/a"; }

report() {
  local k peer v t raw
  echo "## tether and its peers: loopback connects per second"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, Linux $(uname -r);" \
       "median of $ROUNDS round(s) of ${DUR} s runs, interleaved; $WHERE."
  echo "Every client closes with SO_LINGER {1,0} except Tcl, which cannot set it."
  for n in "${NOTES[@]}"; do echo "- $n"; done
  echo
  echo "| peer | K in flight | connects/s | ratio to tether | ratio to raw limit |"
  echo "|---|---:|---:|---:|---:|"
  for k in "${KS[@]}"; do
    t=$(median "$WORK/r.tether.$k")
    raw=$(median "$WORK/r.raw.$k")
    for peer in "${PEERS[@]}"; do
      [[ " ${PEER_KS[$peer]} " == *" $k "* ]] || continue
      v=$(median "$WORK/r.$peer.$k")
      echo "| ${LABEL[$peer]} | $k | $(fmt "$v") | $(ratio "$v" "$t") | $(ratio "$v" "$raw") |"
    done
  done
  echo
  echo "## Connect-state query cost per call (connected socket)"
  echo
  echo "| tether query | tether ns | kernel reference | kernel ns | Tcl fconfigure | Tcl µs" \
       "| kernel / tether | Tcl / tether |"
  echo "|---|---:|---|---:|---|---:|---:|---:|"
  local row q sys name tq sq cq
  for row in connecting:getsockopt_error:"getsockopt(SO_ERROR)" \
             error:getsockopt_error:"getsockopt(SO_ERROR)" \
             sockname:getsockname:getsockname peername:getpeername:getpeername; do
    IFS=: read -r q sys name <<<"$row"
    tq=$(median "$WORK/q.tether_${q}_ns")
    sq=$(median "$WORK/q.sys_${sys}_ns")
    cq=$(median "$WORK/q.tcl_${q}_us")
    echo "| $q() | $(fmt "$tq" 2) | $name | $(fmt "$sq" 1) | -$q | $(fmt "$cq" 3)" \
         "| $(ratio "$sq" "$tq") | $(ratio "$cq" "$tq" 1000) |"
  done
  echo
  echo "## One Tcl fconfigure query: Tcl's socket and tether's channel"
  echo
  echo "On a connected socket, and -connecting on one still connecting (to a"
  echo "\`sink --hang\`), the TIP 427 polling case."
  echo
  echo "| fconfigure | Tcl socket µs | tether channel µs | Tcl / tether |"
  echo "|---|---:|---:|---:|"
  for q in connecting connecting_pending error sockname peername; do
    cq=$(median "$WORK/q.tcl_${q}_us")
    tq=$(median "$WORK/q.tcltether_${q}_us")
    echo "| -${q/_pending/ (pending)} | $(fmt "$cq" 3) | $(fmt "$tq" 3) | $(ratio "$cq" "$tq") |"
  done
  echo
  echo "Reproduce: \`benchmarks/peers/compare.sh\` (took $((SECONDS - START)) s of runs)."
}

report | tee "$HERE/results.md"
