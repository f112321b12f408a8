#!/usr/bin/env bash
# tools/bench/echo_bench.sh: the echo benchmark. Drives each echo server in turn with the same
# load generator on loopback and prints messages per second, each server's ratio to the bare
# liburing loop and to Asio, and the server's user-space CPU time per message.
#
#   bazel run --config=opt //tools/bench:echo_bench [-- SECONDS [REPETITIONS [PIPELINE]]]
#
# Servers: giambio's echo_server on io_uring and on epoll, bare liburing and epoll loops (this
# machine's practical limit), and Asio with C++20 coroutines. Connections 1, 64, 512; messages
# of 64 B and 4 KiB; PIPELINE messages in flight per connection (default 1). With two cores, the
# server is pinned to one and the load to the other. Each cell is the median of REPETITIONS
# (default 3) runs, taken round-robin over the servers so that noise spreads over all of them.
#
#   bazel run --config=opt //tools/bench:echo_bench -- --tls [SECONDS [REPETITIONS]]
#
# --tls: TLS 1.3 echo instead, 64 connections x 4 KiB, giambio's tls_echo_server on io_uring
# against Asio's ssl::stream (the same OpenSSL), both driven by tls_echo_load (giambio's TLS
# client; the same for both). The certificate is a throwaway self-signed one.
set -euo pipefail
tls=false
if [ "${1:-}" == "--tls" ]; then tls=true; shift; fi
seconds="${1:-2}"
repetitions="${2:-3}"
pipeline="${3:-1}"
runfiles="${RUNFILES_DIR:-$0.runfiles}/giambio"
# exec, so that a pinned process started with & is $! itself (its CPU time is read by pid).
pin() { if command -v taskset >/dev/null; then exec taskset -c "$1" "${@:2}"; else exec "${@:2}"; fi; }
ticks_per_second=$(getconf CLK_TCK)

servers=(giambio_uring giambio_epoll liburing epoll asio)
command_for() {
  case "$1" in
    giambio_uring) echo "env GIAMBIO_DRIVER=uring $runfiles/examples/echo_server --quiet" ;;
    giambio_epoll) echo "env GIAMBIO_DRIVER=epoll $runfiles/examples/echo_server --quiet" ;;
    liburing) echo "$runfiles/tools/bench/uring_echo" ;;
    epoll) echo "$runfiles/tools/bench/epoll_echo" ;;
    asio) echo "$runfiles/tools/bench/asio_echo" ;;
  esac
}

user_ticks() { awk '{ print $14 }' "/proc/$1/stat"; }  # utime of a process, in clock ticks

# server connections bytes -> "messages_per_second user_ticks_during_the_run"
measure() {
  local out pid port rate before after
  out=$(mktemp)
  pin 0 $(command_for "$1") --port=0 >"$out" 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
  port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" | head -1)
  before=$(user_ticks "$pid")
  rate=$(pin 1 "$runfiles/tools/bench/echo_load" --port="$port" --connections="$2" \
         --message_bytes="$3" --pipeline="$pipeline" --seconds="$seconds" |
         sed -n 's/messages_per_second=//p')
  after=$(user_ticks "$pid")
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  rm -f "$out"
  echo "${rate:-0} $((after - before))"
}

median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

if $tls; then
  dir=$(mktemp -d)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$dir/key.pem" -out "$dir/chain.pem" 2>/dev/null
  tls_command() {
    case "$1" in
      giambio_uring) echo "env GIAMBIO_DRIVER=uring $runfiles/examples/tls_echo_server --quiet" ;;
      asio) echo "$runfiles/tools/bench/asio_tls_echo" ;;
    esac
  }
  tls_measure() {
    local out pid port rate before after
    out=$(mktemp)
    pin 0 $(tls_command "$1") --port=0 --cert="$dir/chain.pem" --key="$dir/key.pem" >"$out" 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
    port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" | head -1)
    before=$(user_ticks "$pid")
    rate=$(pin 1 "$runfiles/tools/bench/tls_echo_load" --port="$port" --ca="$dir/chain.pem" \
           --connections=64 --message_bytes=4096 --seconds="$seconds" |
           sed -n 's/messages_per_second=//p')
    after=$(user_ticks "$pid")
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    rm -f "$out"
    echo "${rate:-0} $((after - before))"
  }
  echo "TLS 1.3 echo, 64 connections x 4 KiB: messages per second (median of $repetitions x" \
       "${seconds}s); server user CPU in microseconds per message (includes the warm-up)"
  declare -A rates=() users=()
  for _ in $(seq "$repetitions"); do
    for s in giambio_uring asio; do
      read -r rate ticks < <(tls_measure "$s")
      rates[$s]="${rates[$s]:-} $rate"
      users[$s]="${users[$s]:-} $(awk -v t="$ticks" -v hz="$ticks_per_second" -v r="$rate" \
        -v s="$seconds" 'BEGIN { printf "%.3f", (r > 0 ? t / hz * 1e6 / (r * (s + 0.5)) : 0) }')"
    done
  done
  for s in giambio_uring asio; do
    printf "%-14s rate=%s user_us_per_msg=%s   (runs: %s)\n" "$s" \
      "$(echo "${rates[$s]}" | median)" "$(echo "${users[$s]}" | median)" "${rates[$s]# }"
  done
  rm -rf "$dir"
  exit 0
fi

echo "messages per second (median of $repetitions x ${seconds}s, pipeline $pipeline);" \
     "server user CPU in microseconds per message (includes the warm-up)"
printf "%-5s %-5s" conns bytes
for s in "${servers[@]}"; do printf " %13s" "$s"; done
printf "  %-34s %s\n" "ratios of giambio_uring" "user us/msg: giambio_uring giambio_epoll liburing epoll asio"
for conns in 1 64 512; do
  for bytes in 64 4096; do
    declare -A rates=() users=()
    for _ in $(seq "$repetitions"); do
      for s in "${servers[@]}"; do
        read -r rate ticks < <(measure "$s" "$conns" "$bytes")
        rates[$s]="${rates[$s]:-} $rate"
        # User time per message: the ticks cover the warm-up too, so divide by its messages as
        # well (0.5 s at the measured rate).
        users[$s]="${users[$s]:-} $(awk -v t="$ticks" -v hz="$ticks_per_second" -v r="$rate" \
          -v s="$seconds" 'BEGIN { printf "%.3f", (r > 0 ? t / hz * 1e6 / (r * (s + 0.5)) : 0) }')"
      done
    done
    declare -A rate=() user=()
    for s in "${servers[@]}"; do
      rate[$s]=$(echo "${rates[$s]}" | median)
      user[$s]=$(echo "${users[$s]}" | median)
    done
    printf "%-5s %-5s" "$conns" "$bytes"
    for s in "${servers[@]}"; do printf " %13s" "${rate[$s]}"; done
    awk -v g="${rate[giambio_uring]}" -v l="${rate[liburing]}" -v a="${rate[asio]}" \
      'BEGIN { printf "  /liburing=%.2fx /asio=%.2fx         ", (l > 0 ? g / l : 0), (a > 0 ? g / a : 0) }'
    for s in "${servers[@]}"; do printf " %s" "${user[$s]}"; done
    printf "\n"
    unset rates users rate user
  done
done
