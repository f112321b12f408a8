#!/usr/bin/env bash
# The tour runs end to end on both clocks and tells the story in the right order.
set -euo pipefail
tour="$TEST_SRCDIR/giambio/tools/tour"

check() {
  local output="$1"
  for expected in "pool done, total 6" "caught: the failing worker failed" \
      "patient worker: cancelled by its failing sibling" "status: DEADLINE_EXCEEDED" \
      "skipped, no answer" "tour complete"; do
    grep -qF "$expected" <<<"$output" || { echo "missing: $expected"; echo "$output"; exit 1; }
  done
}

virtual_output=$("$tour" --virtual)
check "$virtual_output"
# On the virtual clock the times are exact: the first pool ends at 0.3 s.
grep -qF "[  0.300s]    pool done, total 6" <<<"$virtual_output" || { echo "$virtual_output"; exit 1; }

check "$("$tour" --scale=0.1)"

if "$tour" --scale=-1 2>/dev/null; then echo "--scale=-1 was accepted"; exit 1; fi
echo "tour_test: ok"
