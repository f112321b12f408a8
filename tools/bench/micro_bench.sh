#!/usr/bin/env bash
# tools/bench/micro_bench.sh: the scheduler micro-benchmarks, giambio on its real drivers beside
# the same operations in tokio, Go and Asio, side by side.
#
#   bazel run --config=opt //tools/bench:micro_bench [-- ROUNDS]
#
# Programs: giambio_micro on io_uring and on epoll, tokio_micro (current-thread runtime),
# go_micro, asio_micro (tokio and Go built by peers.sh when `tools/bootstrap --bench` has
# installed them; left out, saying so, otherwise). Each prints nanoseconds per operation for:
# spawn_join (a task spawned and awaited), yield_2_tasks and yield_1000_tasks (per yield),
# ping_pong (two tasks, two channels, per message), timer_arm_cancel (a timer one second ahead,
# armed and cancelled), and sleeping_task_bytes (resident memory per task asleep for an hour,
# over 1,000,000 of them). Every program runs pinned to core 0, one after another, ROUNDS times
# (default 5) in round-robin so that noise spreads over all of them. The table gives medians;
# the ratios are peer / giambio on io_uring, per round, as the median and the range of the
# rounds (above 1: giambio is faster or smaller).
set -euo pipefail
rounds="${1:-5}"
runfiles="${RUNFILES_DIR:-$0.runfiles}/giambio"
pin() { if command -v taskset >/dev/null; then taskset -c 0 "$@"; else "$@"; fi; }

source "$runfiles/tools/bench/peers.sh"
programs=(giambio_uring giambio_epoll)
if build_tokio; then programs+=(tokio); fi
if build_go go_micro; then programs+=(go); fi
programs+=(asio)

command_for() {
  case "$1" in
    giambio_uring) echo "env GIAMBIO_DRIVER=uring $runfiles/tools/bench/giambio_micro" ;;
    giambio_epoll) echo "env GIAMBIO_DRIVER=epoll $runfiles/tools/bench/giambio_micro" ;;
    tokio) echo "$peers/tokio/release/tokio_micro" ;;
    go) echo "$peers/go_micro" ;;
    asio) echo "$runfiles/tools/bench/asio_micro" ;;
  esac
}

operations=(spawn_join yield_2_tasks yield_1000_tasks ping_pong timer_arm_cancel sleeping_task_bytes)
results=$(mktemp)  # lines: round program operation value
trap 'rm -f "$results"' EXIT
for round in $(seq "$rounds"); do
  for p in "${programs[@]}"; do
    pin $(command_for "$p") | awk -v r="$round" -v p="$p" 'NF == 2 { print r, p, $1, $2 }' >>"$results"
  done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'; }
value() { awk -v p="$1" -v o="$2" '$2 == p && $3 == o { print $4 }' "$results" | median; }

echo "scheduler micro-benchmarks, one core, median of $rounds rounds: nanoseconds per operation" \
     "(sleeping_task_bytes: resident bytes per sleeping task)"
printf "%-20s" operation
for p in "${programs[@]}"; do printf " %14s" "$p"; done
printf "\n"
for o in "${operations[@]}"; do
  printf "%-20s" "$o"
  for p in "${programs[@]}"; do printf " %14s" "$(value "$p" "$o")"; done
  printf "\n"
done

echo
echo "ratios, peer / giambio_uring per round: median [lowest..highest] (above 1: giambio ahead)"
printf "%-20s" operation
for p in "${programs[@]:1}"; do printf " %22s" "$p"; done
printf "\n"
for o in "${operations[@]}"; do
  printf "%-20s" "$o"
  for p in "${programs[@]:1}"; do
    cell=$(awk -v p="$p" -v o="$o" '
      $3 == o && $2 == "giambio_uring" { g[$1] = $4 }
      $3 == o && $2 == p { v[$1] = $4 }
      END { for (r in v) if (g[r] > 0) print v[r] / g[r] }' "$results" | sort -n |
      awk '{ v[NR] = $1 } END { if (NR) printf "%.2f [%.2f..%.2f]", v[int((NR + 1) / 2)], v[1], v[NR]; else print "-" }')
    printf " %22s" "$cell"
  done
  printf "\n"
done
