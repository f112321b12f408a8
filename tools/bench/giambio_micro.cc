// tools/bench/giambio_micro.cc: the scheduler micro-benchmarks of tools/bench/micro_bench.sh, on
// a real driver (GIAMBIO_DRIVER=uring or epoll picks which), beside the same operations in tokio
// (tokio/src/bin/tokio_micro.rs), Go (go/go_micro.go) and Asio (asio_micro.cc).
//
//   GIAMBIO_DRIVER=uring giambio_micro   # prints "OPERATION NS_PER_OP" lines, and
//                                        # "sleeping_task_bytes N"
//
// The operations: a task spawned and joined; 2 and 1,000 tasks yielding (checkpoint()); two
// tasks bouncing a value over two rendezvous channels (per message); a timer one second ahead
// armed and cancelled (a cancel scope's deadline around an empty task); resident memory per
// task sleeping for an hour, over 1,000,000 of them. giambio/runtime_benchmark.cc has the same
// costs on the virtual clock, with Google Benchmark's statistics.
#include <chrono>
#include <cstdio>

#include "giambio/giambio.h"
#include "tools/bench/resident.h"

namespace giambio {
namespace {

using Clock = std::chrono::steady_clock;

void report(const char* name, Clock::time_point start, long ops) {
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  std::printf("%s %.1f\n", name, ns / static_cast<double>(ops));
}

Task<> empty_task() { co_return; }

Task<> spawn_join(long n) {
  const auto start = Clock::now();
  co_await with_pool([&](Pool& pool) -> Task<> {
    for (long i = 0; i < n; ++i) {
      TaskHandle<void> handle = pool.spawn(empty_task());
      co_await handle.join();
    }
  });
  report("spawn_join", start, n);
}

Task<> yields(const char* name, long tasks, long each) {
  const auto start = Clock::now();
  co_await with_pool([&](Pool& pool) -> Task<> {
    for (long t = 0; t < tasks; ++t) {
      pool.spawn([each]() -> Task<> {
        for (long i = 0; i < each; ++i) co_await checkpoint();
      });
    }
    co_return;  // the pool waits for them
  });
  report(name, start, tasks * each);
}

Task<> ping_pong(long rounds) {
  auto [ping_tx, ping_rx] = open_memory_channel<long>(0);
  auto [pong_tx, pong_rx] = open_memory_channel<long>(0);
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {
      while (true) {
        absl::StatusOr<long> v = co_await ping_rx.receive();
        if (!v.ok()) co_return;
        (void)co_await pong_tx.send(*v + 1);
      }
    });
    const auto start = Clock::now();
    long value = 0;
    for (long i = 0; i < rounds; ++i) {
      (void)co_await ping_tx.send(value);
      absl::StatusOr<long> back = co_await pong_rx.receive();
      value = back.value_or(0);
    }
    report("ping_pong", start, 2 * rounds);
    ping_tx.close();
  });
}

Task<> timer_arm_cancel(long n) {
  const auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    CancelScope scope;
    scope.set_relative_deadline(absl::Seconds(1));
    co_await scope.run(empty_task());
  }
  report("timer_arm_cancel", start, n);
}

Task<> sleeper() { co_await sleep(absl::Hours(1)); }

Task<> sleeping_tasks(long n) {
  const long before = bench::resident_bytes();
  co_await with_pool([&](Pool& pool) -> Task<> {
    for (long i = 0; i < n; ++i) pool.spawn(sleeper());
    co_await sleep(absl::Milliseconds(100));  // every task is asleep
    std::printf("sleeping_task_bytes %ld\n", (bench::resident_bytes() - before) / n);
    pool.cancel();
  });
}

Task<> all() {
  co_await spawn_join(1'000'000);
  co_await yields("yield_2_tasks", 2, 1'000'000);
  co_await yields("yield_1000_tasks", 1000, 2'000);
  co_await ping_pong(500'000);
  co_await timer_arm_cancel(1'000'000);
  co_await sleeping_tasks(1'000'000);
}

}  // namespace
}  // namespace giambio

int main() {
  giambio::run(giambio::all());
  return 0;
}
