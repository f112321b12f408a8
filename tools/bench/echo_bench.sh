#!/usr/bin/env bash
# tools/bench/echo_bench.sh: the echo benchmark. Drives each echo server in turn with the same
# load generator on loopback and prints, per server: messages per second, its ratio to the bare
# liburing and bare epoll loops, and the server's user CPU, system CPU and syscalls per message.
#
#   bazel run --config=opt //tools/bench:echo_bench [-- SECONDS [REPETITIONS [PIPELINE]]]
#
# Servers: giambio's echo_server on io_uring and on epoll; bare liburing and epoll loops (this
# machine's practical limit); Asio with C++20 coroutines; tokio (current-thread runtime) and Go
# (standard library), built here by peers.sh from tools/bench/tokio and tools/bench/go when
# `tools/bootstrap --bench` has installed Debian's cargo, librust-tokio-dev and golang-go (they
# are left out, saying so, otherwise). Connections 1, 64, 512; messages of 64 B and 4 KiB;
# PIPELINE messages in flight per connection (default 1). With two cores, the server is pinned to
# one and the load to the other. Each rate is the median of REPETITIONS (default 3) runs, taken
# round-robin over the servers so that noise spreads over all of them. CPU per message divides
# the server's CPU time over a whole run (its warm-up too) by all the messages of that run
# (echo_load's messages_total). Syscalls per message come from one extra run per server and
# cell, counted by `perf stat -e raw_syscalls:sys_enter` (Debian's linux-perf); counting slows
# syscalls, so that run's rate is not used. The same run samples the server's user time
# (`perf record -e cpu-clock:u -c 100000`: a sample per 100 µs of its CPU time that falls in
# user space): user_smp, in microseconds per message, resolves the few hundredths of a
# microsecond the bare loops spend where the 10 ms ticks of user_us read 0.
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
source "$runfiles/tools/bench/peers.sh"
add_peers() {
  if build_tokio; then servers+=(tokio); fi
  if build_go go_echo; then servers+=(go); fi
}

counting=false
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
  counting=true
else
  echo "echo_bench: perf cannot count syscalls here (tools/bootstrap --bench): no syscall column" >&2
fi
sampling=false
samples_probe=$(mktemp)
if $counting && perf record -q -e cpu-clock:u -c 100000 -o "$samples_probe" true >/dev/null 2>&1; then
  sampling=true
else
  echo "echo_bench: perf cannot sample user time here: no user_smp column" >&2
fi
rm -f "$samples_probe"

command_for() {
  case "$1" in
    giambio_uring) echo "env GIAMBIO_DRIVER=uring $runfiles/examples/echo_server --quiet" ;;
    giambio_epoll) echo "env GIAMBIO_DRIVER=epoll $runfiles/examples/echo_server --quiet" ;;
    liburing) echo "$runfiles/tools/bench/uring_echo" ;;
    epoll) echo "$runfiles/tools/bench/epoll_echo" ;;
    asio) echo "$runfiles/tools/bench/asio_echo" ;;
    tokio) echo "$peers/tokio/release/tokio_echo" ;;
    go) echo "$peers/go_echo" ;;
  esac
}

# CPU time of a process in clock ticks, all its threads: "user system".
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }

# server connections bytes [count] -> "messages_per_second messages_total user_ticks system_ticks
# syscalls user_samples" (the last two only with `count`, else 0).
measure() {
  local out pid port load perf_pid=0 record_pid=0 user0 system0 user1 system1 syscalls=0 samples=0
  out=$(mktemp)
  pin 0 $(command_for "$1") --port=0 >"$out" 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
  port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" | head -1)
  if [ -n "${4:-}" ]; then
    perf stat -e raw_syscalls:sys_enter -x, -o "$out.perf" -p "$pid" &
    perf_pid=$!
    if $sampling; then
      perf record -q -e cpu-clock:u -c 100000 -o "$out.samples" -p "$pid" >/dev/null 2>&1 &
      record_pid=$!
    fi
    sleep 0.2  # attached
  fi
  read -r user0 system0 < <(cpu_ticks "$pid")
  load=$(pin 1 "$runfiles/tools/bench/echo_load" --port="$port" --connections="$2" \
         --message_bytes="$3" --pipeline="$pipeline" --seconds="$seconds")
  read -r user1 system1 < <(cpu_ticks "$pid")
  if [ "$perf_pid" -ne 0 ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
    syscalls=$(awk -F, '/raw_syscalls:sys_enter/ { print $1 }' "$out.perf")
    if [ "$record_pid" -ne 0 ]; then
      kill -INT "$record_pid"; wait "$record_pid" 2>/dev/null || true
      samples=$(perf script -i "$out.samples" -F ip 2>/dev/null | wc -l)
    fi
  fi
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  rm -f "$out" "$out.perf" "$out.samples"
  echo "$(echo "$load" | sed -n 's/messages_per_second=//p') \
$(echo "$load" | sed -n 's/messages_total=//p') $((user1 - user0)) $((system1 - system0)) \
${syscalls:-0} ${samples:-0}"
}

# ticks messages -> microseconds per message
per_message_us() {
  awk -v t="$1" -v hz="$ticks_per_second" -v m="$2" 'BEGIN { printf "%.3f", (m > 0 ? t / hz * 1e6 / m : 0) }'
}

# The median of the numbers in a space-separated list (the lists start with a space: skip empties).
median() { tr ' ' '\n' | awk 'NF' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

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
    read -r before _ < <(cpu_ticks "$pid")
    rate=$(pin 1 "$runfiles/tools/bench/tls_echo_load" --port="$port" --ca="$dir/chain.pem" \
           --connections=64 --message_bytes=4096 --seconds="$seconds" |
           sed -n 's/messages_per_second=//p')
    read -r after _ < <(cpu_ticks "$pid")
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

add_peers
echo "echo over loopback, pipeline $pipeline: messages per second (median of $repetitions x" \
     "${seconds}s), its ratio to the bare liburing and epoll loops, the server's user and system" \
     "CPU in microseconds per message and its syscalls per message (medians; syscalls and" \
     "user_smp, the user CPU sampled per 100 µs, from one counted run)"
printf "%-5s %-5s %-13s %10s %9s %7s %8s %8s %9s %9s\n" conns bytes server "msgs/s" /liburing \
  /epoll user_us sys_us syscalls user_smp
for conns in 1 64 512; do
  for bytes in 64 4096; do
    declare -A rates=() users=() systems=() syscalls=() sampled=()
    for _ in $(seq "$repetitions"); do
      for s in "${servers[@]}"; do
        read -r rate total user system _ < <(measure "$s" "$conns" "$bytes")
        rates[$s]="${rates[$s]:-} ${rate:-0}"
        users[$s]="${users[$s]:-} $(per_message_us "$user" "${total:-0}")"
        systems[$s]="${systems[$s]:-} $(per_message_us "$system" "${total:-0}")"
      done
    done
    for s in "${servers[@]}"; do
      syscalls[$s]="-"
      sampled[$s]="-"
      if $counting; then
        read -r _ total _ _ count samples < <(measure "$s" "$conns" "$bytes" count)
        syscalls[$s]=$(awk -v c="$count" -v m="${total:-0}" 'BEGIN { printf "%.2f", (m > 0 ? c / m : 0) }')
        # A sample per 100 µs of user time.
        $sampling && sampled[$s]=$(awk -v n="$samples" -v m="${total:-0}" 'BEGIN { printf "%.3f", (m > 0 ? n * 100 / m : 0) }')
      fi
    done
    declare -A medians=()
    for s in "${servers[@]}"; do medians[$s]=$(echo "${rates[$s]}" | median); done
    for s in "${servers[@]}"; do
      printf "%-5s %-5s %-13s %10s" "$conns" "$bytes" "$s" "${medians[$s]}"
      awk -v r="${medians[$s]}" -v l="${medians[liburing]}" -v e="${medians[epoll]}" \
        'BEGIN { printf " %8.2fx %6.2fx", (l > 0 ? r / l : 0), (e > 0 ? r / e : 0) }'
      printf " %8s %8s %9s %9s\n" "$(echo "${users[$s]}" | median)" \
        "$(echo "${systems[$s]}" | median)" "${syscalls[$s]}" "${sampled[$s]}"
    done
    unset rates users systems syscalls sampled medians
  done
done
