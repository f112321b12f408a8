#!/bin/bash
# trace_diff on real runner traces: one seed twice is identical (exit 0); two seeds, or kv with
# and without its planted bug, diverge at a named event (exit 1); bad input exits 2.
set -euo pipefail
simulate="$(realpath "$1")"
trace_diff="$(realpath "$2")"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$simulate" --scenario=echo --seed=4 --simulated=5s --trace_out="$tmp/a.json" > /dev/null
"$simulate" --scenario=echo --seed=4 --simulated=5s --trace_out="$tmp/b.json" > /dev/null
"$simulate" --scenario=echo --seed=5 --simulated=5s --trace_out="$tmp/c.json" > /dev/null

# As under `bazel run`: relative paths are the user's directory's (BUILD_WORKING_DIRECTORY), and
# the runner says where it wrote the trace.
mkdir -p "$tmp/user"
(cd / && BUILD_WORKING_DIRECTORY="$tmp/user" "$simulate" --scenario=echo --seed=4 --simulated=5s \
  --trace_out=rel.json > /dev/null 2> "$tmp/wrote.txt") || fail "relative --trace_out: exit $?"
[ -s "$tmp/user/rel.json" ] || fail "relative --trace_out did not write $tmp/user/rel.json"
grep -qF "trace: wrote $tmp/user/rel.json" "$tmp/wrote.txt" || fail "$(cat "$tmp/wrote.txt")"
(cd / && BUILD_WORKING_DIRECTORY="$tmp/user" "$trace_diff" rel.json "$tmp/a.json" > /dev/null) ||
  fail "trace_diff with a relative path: exit $?"

"$trace_diff" "$tmp/a.json" "$tmp/b.json" > "$tmp/same.txt" || fail "same seed: exit $?"
grep -Eq '^identical \([0-9]+ events, [0-9]+ names\)$' "$tmp/same.txt" || fail "$(cat "$tmp/same.txt")"

set +e
"$trace_diff" "$tmp/a.json" "$tmp/c.json" > "$tmp/diff.txt"
status=$?
set -e
[ "$status" -eq 1 ] || fail "seeds 4 and 5: exit $status, expected 1"
grep -Eq '^first divergence at event [0-9]+$' "$tmp/diff.txt" || fail "$(cat "$tmp/diff.txt")"
grep -Eq '^  A: at ([0-9.]+[mun]?s|0), host [0-9]+ \(.*\), task [0-9]+ ' "$tmp/diff.txt" || fail "$(cat "$tmp/diff.txt")"
grep -Eq '^  B: at ' "$tmp/diff.txt" || fail "$(cat "$tmp/diff.txt")"

# The planted bug (ack before fsync) shows up as the first event that differs.
"$simulate" --scenario=kv --seed=1 --simulated=5s --trace_out="$tmp/kv.json" > /dev/null || true
"$simulate" --scenario=kv --seed=1 --simulated=5s --bug --trace_out="$tmp/kv_bug.json" > /dev/null || true
set +e
"$trace_diff" "$tmp/kv.json" "$tmp/kv_bug.json" > "$tmp/kv_diff.txt"
status=$?
set -e
[ "$status" -eq 1 ] || fail "kv with and without --bug: exit $status, expected 1"
grep -q 'last common: ' "$tmp/kv_diff.txt" || fail "$(cat "$tmp/kv_diff.txt")"

# Bad input: exit 2, naming the file (and the byte offset for bad JSON).
expect_bad() {
  local want="$1"; shift
  set +e
  "$trace_diff" "$@" > /dev/null 2> "$tmp/err.txt"
  local code=$?
  set -e
  [ "$code" -eq 2 ] || fail "trace_diff $*: exit $code, expected 2"
  grep -q -- "$want" "$tmp/err.txt" || fail "trace_diff $*: message lacks '$want': $(cat "$tmp/err.txt")"
}
head -c 1000 "$tmp/a.json" > "$tmp/truncated.json"
expect_bad "truncated.json: trace JSON: at byte 1000" "$tmp/a.json" "$tmp/truncated.json"
expect_bad "missing.json: No such file" "$tmp/missing.json" "$tmp/a.json"
expect_bad "expected two trace files, got 1" "$tmp/a.json"
"$trace_diff" --help | grep -q '^usage: trace_diff' || fail "--help"
echo PASS
