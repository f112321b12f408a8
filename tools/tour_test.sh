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
grep -qF "5. sockets: skipped on the virtual clock" <<<"$virtual_output" || { echo "$virtual_output"; exit 1; }
# On the virtual clock the times are exact: the first pool ends at 0.3 s.
grep -qF "[  0.300s]    pool done, total 6" <<<"$virtual_output" || { echo "$virtual_output"; exit 1; }

real_output=$("$tour" --scale=0.1)
check "$real_output"
# Part 5 on real sockets: three clients greeted at once, each answered, and the server saw each
# of them close.
for expected in "server listening on 127.0.0.1:" \
    "client 1: greeted: Welcome to the server pal" "client 2: greeted: Welcome to the server pal" \
    "client 3: greeted: Welcome to the server pal" "client 2: answer: Got: hello from client 2" \
    "every client is done"; do
  grep -qF "$expected" <<<"$real_output" || { echo "missing: $expected"; echo "$real_output"; exit 1; }
done
[ "$(grep -c "server: 127.0.0.1:[0-9]* closed" <<<"$real_output")" -eq 3 ] || { echo "$real_output"; exit 1; }

if "$tour" --scale=-1 2>/dev/null; then echo "--scale=-1 was accepted"; exit 1; fi
echo "tour_test: ok"
