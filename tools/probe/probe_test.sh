#!/bin/sh
# tether-probe end to end: `--demo --json` prints one valid JSON object per
# target with the expected outcomes, then a summary object, and usage errors
# exit 2 with one line naming the bad argument.
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
summary = rows.pop()
assert summary["type"] == "summary" and summary["targets"] == len(rows), summary
by_outcome = {}
for r in rows:
    assert r["type"] == "target", r
    for key in ("target", "host", "port", "outcome", "errno", "message",
                "address", "local_address", "time_ms", "attempts"):
        assert key in r, (key, r)
    by_outcome.setdefault(r["outcome"], []).append(r)
want = {"connected", "refused", "timeout", "bad_input"}
assert set(by_outcome) == want, sorted(by_outcome)
assert summary["counts"] == {k: len(v) for k, v in by_outcome.items()}, summary
assert summary["exit_code"] == 2, summary  # bad_input is the worst
for r in by_outcome["connected"]:
    assert r["reply"] == "hello from tether-probe\n", r
    assert r["reply_error"] is None and r["message"] is None, r
    assert r["address"] and r["local_address"], r
    assert r["attempts"][-1]["outcome"] == "connected", r
assert any(r["target"].startswith("localhost:") for r in by_outcome["connected"])
(refused,) = by_outcome["refused"]
assert refused["errno"] == "ECONNREFUSED", refused
assert refused["attempts"][0]["outcome"] == "refused", refused
assert refused["attempts"][0]["message"] == "Connection refused", refused
(hung,) = by_outcome["timeout"]
assert 900 <= hung["time_ms"] < 5000 and hung["errno"] == "ETIMEDOUT", hung
(bad,) = by_outcome["bad_input"]
assert bad["host"] == "" and bad["attempts"] == [], bad
assert "host is empty" in bad["message"], bad
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
check_usage "host is empty" :80
check_usage "no targets"

"$probe" --help >"$tmp/out" 2>&1 || fail "--help exited $?"
grep -q "^usage: tether-probe" "$tmp/out" || fail "--help text"
echo PASS
