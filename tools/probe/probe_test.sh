#!/bin/sh
# tether-probe end to end: `--demo --json` prints one valid JSON object per
# target with the expected results, and usage errors exit 2 with one line
# naming the bad argument.
# Usage: probe_test.sh PATH-TO-tether-probe
set -u
probe=$1
tmp=${TEST_TMPDIR:-$(mktemp -d)}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
fail() { echo "FAIL: $*" >&2; exit 1; }

"$probe" --demo --json >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out" "$tmp/err"
[ "$rc" -eq 0 ] || fail "--demo --json exited $rc"
grep -q "demo: every row as expected" "$tmp/err" || fail "no verdict on stderr"

"$py" - "$tmp/out" <<'PY' || fail "JSON check"
import json, sys
rows = []
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    try:
        rows.append(json.loads(line))
    except ValueError as e:
        sys.exit("line %d is not JSON (%s): %r" % (n, e, line))
by_result = {}
for r in rows:
    for key in ("target", "host", "port", "result", "error", "errno", "address",
                "local_address", "time_ms", "attempt_count", "attempts"):
        assert key in r, (key, r)
    assert r["attempt_count"] == len(r["attempts"]), r
    by_result.setdefault(r["result"], []).append(r)
want = {"connected", "refused", "timed out", "bad input"}
assert set(by_result) == want, sorted(by_result)
for r in by_result["connected"]:
    assert r["reply"] == "hello from tether-probe\n", r
    assert r["reply_error"] is None, r
    assert r["address"] and r["local_address"], r
    assert r["attempts"][-1]["outcome"] == "connected", r
assert any(r["target"].startswith("localhost:") for r in by_result["connected"])
(refused,) = by_result["refused"]
assert refused["errno"] == "ECONNREFUSED", refused
assert refused["attempts"][0]["outcome"] == "refused (ECONNREFUSED)", refused
(hung,) = by_result["timed out"]
assert 900 <= hung["time_ms"] < 5000, hung
(bad,) = by_result["bad input"]
assert bad["host"] == "" and bad["attempt_count"] == 0, bad
assert "host is empty" in bad["error"], bad
print("JSON ok: %d rows" % len(rows))
PY

# Usage errors: exit 2, one line on stderr naming the argument.
check_usage() {
  needle=$1
  shift
  "$probe" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ "$rc" -eq 2 ] || fail "$* exited $rc, want 2"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$*: want one line, got: $(cat "$tmp/err")"
  grep -qF -- "$needle" "$tmp/err" || fail "$*: '$needle' not in: $(cat "$tmp/err")"
  [ ! -s "$tmp/out" ] || fail "$*: wrote to stdout"
}
check_usage "--bogus" --bogus 127.0.0.1:1
check_usage "--timeout \"5x\"" --timeout 5x 127.0.0.1:1
check_usage "\"nohostport\"" nohostport
check_usage "no targets"

"$probe" --help >"$tmp/out" 2>&1 || fail "--help exited $?"
grep -q "^usage: tether-probe" "$tmp/out" || fail "--help text"
echo PASS
