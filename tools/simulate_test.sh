#!/bin/bash
# The simulation runner's contract, checked across separate processes: same seed, same
# fingerprint and trace; distinct seeds, distinct fingerprints; kv --bug fails on some seeds and
# each printed replay reproduces its failure exactly; bad flags exit 2.
set -euo pipefail
simulate="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# Same scenario and seed in two processes: the same line and the same trace, byte for byte.
"$simulate" --scenario=chat --seed=5 --trace_out="$tmp/a.json" > "$tmp/a.txt"
"$simulate" --scenario=chat --seed=5 --trace_out="$tmp/b.json" > "$tmp/b.txt"
grep -Eq '^scenario=chat seed=5 fingerprint=[0-9a-f]{16} ok ' "$tmp/a.txt" || fail "bad run line: $(cat "$tmp/a.txt")"
cmp -s <(head -1 "$tmp/a.txt") <(head -1 "$tmp/b.txt") || fail "two runs of seed 5 differ"
cmp -s "$tmp/a.json" "$tmp/b.json" || fail "two traces of seed 5 differ"

# The trace is Chrome trace-event JSON that Perfetto loads.
python3 - "$tmp/a.json" <<'PY' || fail "trace JSON is not valid trace-event JSON"
import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
assert len(events) > 100, len(events)
for e in events:
    assert {"ph", "pid", "tid"} <= e.keys(), e
    assert e["ph"] == "M" or "ts" in e, e
assert any(e["ph"] == "s" for e in events) and any(e["ph"] == "f" for e in events)
PY

# 200 seeds: at least 198 distinct fingerprints.
"$simulate" --scenario=chat --seeds=0..200 > "$tmp/sweep.txt"
distinct=$(grep -o 'fingerprint=[0-9a-f]*' "$tmp/sweep.txt" | sort -u | wc -l)
[ "$distinct" -ge 198 ] || fail "only $distinct distinct fingerprints over 200 seeds"
grep -qE '^summary: runs=200 failures=0 .* simulated_per_wall=[0-9]+ seeds_per_second=[0-9.]+$' "$tmp/sweep.txt" || fail "no summary: $(tail -1 "$tmp/sweep.txt")"

# The TLS scenario, whose OpenSSL draws its randomness from the world: the same seed gives the
# same line in two processes, and 200 seeds at least 198 distinct fingerprints (1 s each here:
# 18 s of CPU in fastbuild; the scenario's 30 s by hand).
"$simulate" --scenario=tls --seed=3 --simulated=1s > "$tmp/tls_a.txt"
"$simulate" --scenario=tls --seed=3 --simulated=1s > "$tmp/tls_b.txt"
cmp -s <(head -1 "$tmp/tls_a.txt") <(head -1 "$tmp/tls_b.txt") || fail "two tls runs of seed 3 differ"
"$simulate" --scenario=tls --seeds=0..200 --simulated=1s > "$tmp/tls_sweep.txt"
distinct=$(grep -o 'fingerprint=[0-9a-f]*' "$tmp/tls_sweep.txt" | sort -u | wc -l)
[ "$distinct" -ge 198 ] || fail "tls: only $distinct distinct fingerprints over 200 seeds"
grep -q '^summary: runs=200 failures=0 ' "$tmp/tls_sweep.txt" || fail "tls: $(tail -1 "$tmp/tls_sweep.txt")"
# The echo's buggify() site (a one-byte read) fired in some of the runs, and the sweep says so.
grep -qE '^buggify: examples/echo.h:[0-9]+ fired in [0-9]+ of 200 runs$' "$tmp/tls_sweep.txt" ||
  fail "tls: no buggify line: $(grep buggify "$tmp/tls_sweep.txt")"

# kv --bug fails on some seeds; every replay command reproduces its line exactly.
set +e
"$simulate" --scenario=kv --bug --seeds=0..30 --simulated=30s > "$tmp/bug.txt"
status=$?
set -e
[ "$status" -eq 1 ] || fail "kv --bug sweep exited $status, expected 1"
grep -q '^replay: ' "$tmp/bug.txt" || fail "no replay line"
grep '^replay: ' "$tmp/bug.txt" | head -3 | while read -r _ _ _ _ _ _ args; do  # replay: bazel run --config=opt //tools:simulate -- ARGS
  seed=$(echo "$args" | grep -o 'seed=[0-9]*')
  expected=$(grep "^scenario=kv $seed " "$tmp/bug.txt")
  set +e
  got=$("$simulate" $args)
  set -e
  [ "$(echo "$got" | head -1)" == "$expected" ] || fail "replay of $seed differs: $got vs $expected"
done
# --shrink on the first failing seed: it prints the fewest faults with which the seed still fails
# and a replay line with --faults=...; that line fails the same way, and without those faults
# (--faults=none) the seed passes.
first=$(grep -o '^scenario=kv seed=[0-9]* [^ ]* FAILED' "$tmp/bug.txt" | head -1 | grep -o 'seed=[0-9]*')
set +e
"$simulate" --scenario=kv --bug "--$first" --simulated=30s --shrink > "$tmp/shrink.txt"
status=$?
set -e
[ "$status" -eq 1 ] || fail "--shrink of $first exited $status, expected 1: $(cat "$tmp/shrink.txt")"
grep -qE '^shrink: [0-9]+ faults drawn, [0-9]+ carried out; it still fails with [0-9]+' "$tmp/shrink.txt" ||
  fail "no shrink summary: $(cat "$tmp/shrink.txt")"
replay=$(grep '^replay: ' "$tmp/shrink.txt" | sed -E 's/^replay: bazel run --config=opt \/\/tools:simulate -- //')
[[ "$replay" == *--faults=* ]] || fail "the shrink's replay has no --faults: $replay"
set +e
"$simulate" $replay > "$tmp/shrunk_run.txt"
status=$?
set -e
[ "$status" -eq 1 ] || fail "the shrink's replay passed: $(cat "$tmp/shrunk_run.txt")"
if ! grep -q -- '--faults=none' <<< "$replay"; then
  "$simulate" --scenario=kv --bug "--$first" --simulated=30s --faults=none > "$tmp/no_faults.txt" ||
    fail "$first fails without any fault, yet the shrink kept some: $(cat "$tmp/shrink.txt")"
fi
# Without the bug the same sweep passes.
"$simulate" --scenario=kv --seeds=0..30 --simulated=30s > "$tmp/fixed.txt" || fail "kv without --bug failed: $(grep FAILED "$tmp/fixed.txt")"

# Raft: --list names its bugs; without a bug a short sweep passes; with stale_read it fails, the
# replay line reproduces the run line, and a single run prints the witness (the operations of
# the history that cannot be ordered).
"$simulate" --list |
  grep -q '^  bugs: append_not_durable, double_vote, vote_ignores_log, commit_old_term, stale_read$' ||
  fail "--list does not name raft's bugs"
"$simulate" --scenario=raft --seeds=0..8 --simulated=5s > "$tmp/raft.txt" ||
  fail "raft without a bug failed: $(grep FAILED "$tmp/raft.txt")"
set +e
"$simulate" --scenario=raft --bug=stale_read --seeds=0..30 > "$tmp/raft_bug.txt"
status=$?
set -e
[ "$status" -eq 1 ] || fail "raft --bug=stale_read over 30 seeds exited $status, expected 1"
replay=$(grep '^replay: ' "$tmp/raft_bug.txt" | head -1 | sed -E 's/^replay: bazel run --config=opt \/\/tools:simulate -- //')
seed=$(echo "$replay" | grep -o 'seed=[0-9]*')
set +e
"$simulate" $replay > "$tmp/raft_replay.txt"
set -e
[ "$(head -1 "$tmp/raft_replay.txt")" == "$(grep "^scenario=raft $seed " "$tmp/raft_bug.txt")" ] ||
  fail "raft replay of $seed differs: $(head -1 "$tmp/raft_replay.txt")"
grep -q "^  not linearizable: key 'k[0-9]': these [0-9]* operations cannot be ordered:" \
  "$tmp/raft_replay.txt" || fail "the raft replay printed no witness: $(cat "$tmp/raft_replay.txt")"

# Raft's other bugs break its safety properties, checked as the nodes go: a node voting twice in
# a term makes two leaders of it; an entry acknowledged before it is durable, or a vote that
# ignores the candidate's log, loses committed entries within a few seeds; the Figure 8 commit
# (rarer: 8 seeds of 2,000) on seed 91.
set +e
"$simulate" --scenario=raft --bug=double_vote --seeds=1..4 > "$tmp/raft_double_vote.txt"
status=$?
set -e
[ "$status" -eq 1 ] || fail "raft --bug=double_vote over seeds 1..3 exited $status, expected 1"
grep -q "FAILED.*raft: Election Safety: n[0-4] and n[0-4] both became leader of term" \
  "$tmp/raft_double_vote.txt" || fail "raft --bug=double_vote: $(cat "$tmp/raft_double_vote.txt")"
for bug in append_not_durable vote_ignores_log; do
  set +e
  "$simulate" --scenario=raft --bug="$bug" --seeds=1..4 > "$tmp/raft_$bug.txt"
  status=$?
  set -e
  [ "$status" -eq 1 ] || fail "raft --bug=$bug over seeds 1..3 exited $status, expected 1"
  grep -q "FAILED.*raft: State Machine Safety: n[0-4] applied entry" "$tmp/raft_$bug.txt" ||
    fail "raft --bug=$bug: no State Machine Safety failure: $(cat "$tmp/raft_$bug.txt")"
done
set +e
"$simulate" --scenario=raft --bug=commit_old_term --seed=91 > "$tmp/raft_figure8.txt"
status=$?
set -e
[ "$status" -eq 1 ] || fail "raft --bug=commit_old_term --seed=91 exited $status, expected 1"
grep -q "FAILED.*raft: State Machine Safety" "$tmp/raft_figure8.txt" ||
  fail "raft --bug=commit_old_term --seed=91: $(cat "$tmp/raft_figure8.txt")"

# The determinism audit on a sample of seeds of every scenario: each seed runs twice in this
# process and must give the same fingerprint (a difference fails it, naming the first event).
for scenario in $("$simulate" --list | grep -o '^[a-z]*:' | tr -d :); do
  "$simulate" --scenario="$scenario" --seeds=0..3 --simulated=3s --swarm --check_determinism \
    > "$tmp/audit.txt" || fail "determinism audit of $scenario: $(grep FAILED "$tmp/audit.txt")"
done

# Bad flags: exit 2 with a message naming the flag.
expect_bad() {
  local want="$1"; shift
  set +e
  "$simulate" "$@" > /dev/null 2> "$tmp/err.txt"
  local code=$?
  set -e
  [ "$code" -eq 2 ] || fail "$* exited $code, expected 2"
  grep -q -- "$want" "$tmp/err.txt" || fail "$*: message lacks '$want': $(cat "$tmp/err.txt")"
}
expect_bad "--scenario=nope" --scenario=nope
expect_bad "--seeds=5..2" --seeds=5..2
expect_bad "--seed=x" --seed=x
expect_bad "--simulated=forever" --simulated=forever
expect_bad "unknown flag" --frobnicate
expect_bad "--trace_out needs a single run" --trace_out=/tmp/x.json
# A trace that cannot be written (a full disk) fails the run, saying so.
set +e
"$simulate" --scenario=echo --seed=1 --simulated=1s --trace_out=/dev/full > /dev/null 2> "$tmp/full.txt"
status=$?
set -e
[ "$status" -eq 1 ] || fail "--trace_out=/dev/full exited $status, expected 1"
grep -q "^trace: writing /dev/full failed$" "$tmp/full.txt" || fail "$(cat "$tmp/full.txt")"
expect_bad "has no planted bug" --scenario=echo --bug
expect_bad "--shrink needs the failing seed" --shrink
expect_bad "is not a fault number" --seed=1 --faults=x
echo PASS
