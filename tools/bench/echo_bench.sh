#!/usr/bin/env bash
# tools/bench/echo_bench.sh: the echo benchmark. Drives each echo server in turn with the same
# load generator on loopback and prints messages per second, and each server's ratio to the
# bare liburing loop.
#
#   bazel run --config=opt //tools/bench:echo_bench [-- SECONDS]
#
# Servers: giambio's echo_server on io_uring and on epoll, bare liburing and epoll loops (this
# machine's practical limit), and Asio with C++20 coroutines. Connections 1, 64, 512; messages
# of 64 B and 4 KiB. With two cores, the server is pinned to one and the load to the other.
set -euo pipefail
seconds="${1:-2}"
runfiles="${RUNFILES_DIR:-$0.runfiles}/giambio"
pin() { if command -v taskset >/dev/null; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }

servers=(giambio_uring giambio_epoll liburing epoll asio)
command_for() {
  case "$1" in
    giambio_uring) echo "env GIAMBIO_DRIVER=uring $runfiles/tools/examples/echo_server" ;;
    giambio_epoll) echo "env GIAMBIO_DRIVER=epoll $runfiles/tools/examples/echo_server" ;;
    liburing) echo "$runfiles/tools/bench/uring_echo" ;;
    epoll) echo "$runfiles/tools/bench/epoll_echo" ;;
    asio) echo "$runfiles/tools/bench/asio_echo" ;;
  esac
}

measure() {  # server connections bytes -> messages per second
  local out pid port rate
  out=$(mktemp)
  pin 0 $(command_for "$1") --port=0 >"$out" 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
  port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" | head -1)
  rate=$(pin 1 "$runfiles/tools/bench/echo_load" --port="$port" --connections="$2" \
         --message_bytes="$3" --seconds="$seconds" | sed -n 's/messages_per_second=//p')
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  rm -f "$out"
  echo "${rate:-0}"
}

printf "%-6s %-6s" conns bytes
for s in "${servers[@]}"; do printf " %14s" "$s"; done
printf "   ratios to liburing\n"
for conns in 1 64 512; do
  for bytes in 64 4096; do
    declare -A rate=()
    for s in "${servers[@]}"; do rate[$s]=$(measure "$s" "$conns" "$bytes"); done
    printf "%-6s %-6s" "$conns" "$bytes"
    for s in "${servers[@]}"; do printf " %14s" "${rate[$s]}"; done
    printf "  "
    for s in giambio_uring giambio_epoll epoll asio; do
      awk -v a="${rate[$s]}" -v b="${rate[liburing]}" -v n="$s" \
        'BEGIN { printf " %s=%.2fx", n, (b > 0 ? a / b : 0) }'
    done
    printf "\n"
    unset rate
  done
done
