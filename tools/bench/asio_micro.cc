// tools/bench/asio_micro.cc: the scheduler micro-benchmarks of tools/bench/micro_bench.sh in Asio
// with C++20 coroutines, the same operations as giambio_micro.cc, on one io_context run by one
// thread.
//
//   asio_micro      # prints "OPERATION NS_PER_OP" lines, and "sleeping_task_bytes N"
// GCC 12 at -O1 (the ASan config) reports Asio's own awaitable-frame allocator as a mismatched
// new/delete, at our coroutines' lines; it is a false positive inside Asio.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
// Under TSan, GCC warns that Asio's atomic_thread_fence is not instrumented; only the benchmark
// uses Asio, and it does not run under TSan.
#pragma GCC diagnostic ignored "-Wtsan"

#include <asio.hpp>
#include <asio/experimental/channel.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "tools/bench/resident.h"

namespace {

using Clock = std::chrono::steady_clock;
using asio::awaitable;
using asio::use_awaitable;

void report(const char* name, Clock::time_point start, long ops) {
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  std::printf("%s %.1f\n", name, ns / static_cast<double>(ops));
}

awaitable<void> empty() { co_return; }

// A coroutine spawned and awaited.
awaitable<void> spawn_join(long n) {
  auto executor = co_await asio::this_coro::executor;
  const auto start = Clock::now();
  for (long i = 0; i < n; ++i) co_await asio::co_spawn(executor, empty(), use_awaitable);
  report("spawn_join", start, n);
}

awaitable<void> yielder(long each, long& running) {
  auto executor = co_await asio::this_coro::executor;
  for (long i = 0; i < each; ++i) co_await asio::post(executor, use_awaitable);
  --running;
}

// `tasks` coroutines, each yielding (posting itself to the back of the queue) `each` times.
awaitable<void> yields(const char* name, long tasks, long each) {
  auto executor = co_await asio::this_coro::executor;
  long running = tasks;
  const auto start = Clock::now();
  for (long t = 0; t < tasks; ++t) asio::co_spawn(executor, yielder(each, running), asio::detached);
  while (running > 0) co_await asio::post(executor, use_awaitable);
  report(name, start, tasks * each);
}

using Channel = asio::experimental::channel<void(asio::error_code, long)>;

awaitable<void> bounce(Channel& ping, Channel& pong) {
  try {
    while (true) {
      const long v = co_await ping.async_receive(use_awaitable);
      co_await pong.async_send(asio::error_code{}, v + 1, use_awaitable);
    }
  } catch (const std::exception&) {
    // closed
  }
}

// Two coroutines bouncing a value over two channels of capacity 0; per message.
awaitable<void> ping_pong(long rounds) {
  auto executor = co_await asio::this_coro::executor;
  Channel ping(executor, 0);
  Channel pong(executor, 0);
  asio::co_spawn(executor, bounce(ping, pong), asio::detached);
  const auto start = Clock::now();
  long v = 0;
  for (long i = 0; i < rounds; ++i) {
    co_await ping.async_send(asio::error_code{}, v, use_awaitable);
    v = co_await pong.async_receive(use_awaitable);
  }
  report("ping_pong", start, 2 * rounds);
  ping.close();
}

// A timer one second ahead, armed (async_wait) and cancelled (its destructor). Asio cannot
// cancel without running the handler (with operation_aborted): they run every 1,024 timers.
awaitable<void> timer_arm_cancel(long n) {
  auto executor = co_await asio::this_coro::executor;
  const auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    {
      asio::steady_timer timer(executor, std::chrono::seconds(1));
      timer.async_wait([](asio::error_code) {});
    }
    if (i % 1024 == 1023) co_await asio::post(executor, use_awaitable);
  }
  co_await asio::post(executor, use_awaitable);
  report("timer_arm_cancel", start, n);
}

awaitable<void> sleeper(long& asleep) {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::hours(1));
  ++asleep;
  asio::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
}

// Resident memory per coroutine sleeping for an hour, over `n` of them.
awaitable<void> sleeping_tasks(long n, asio::io_context& context) {
  auto executor = co_await asio::this_coro::executor;
  const long before = giambio::bench::resident_bytes();
  long asleep = 0;
  for (long i = 0; i < n; ++i) asio::co_spawn(executor, sleeper(asleep), asio::detached);
  while (asleep < n) co_await asio::post(executor, use_awaitable);
  std::printf("sleeping_task_bytes %ld\n", (giambio::bench::resident_bytes() - before) / n);
  std::fflush(stdout);
  context.stop();
}

awaitable<void> all(asio::io_context& context) {
  co_await spawn_join(1'000'000);
  co_await yields("yield_2_tasks", 2, 1'000'000);
  co_await yields("yield_1000_tasks", 1000, 2'000);
  co_await ping_pong(500'000);
  co_await timer_arm_cancel(1'000'000);
  co_await sleeping_tasks(1'000'000, context);
}

}  // namespace

int main() {
  asio::io_context context(1);
  asio::co_spawn(context, all(context), asio::detached);
  context.run();
}
