// giambio/runtime_benchmark.cc: the core runtime's costs.
//
//   bazel run --config=opt //giambio:runtime_benchmark
//
// Every benchmark runs inside one giambio::run on the virtual-clock driver (no syscalls), so it
// measures the scheduler itself. Figures and targets are in docs/benchmarks.md.
#include <malloc.h>

#include <cstddef>
#include <vector>

#include "benchmark/benchmark.h"
#include "giambio/giambio.h"
#include "giambio/internal/timer_heap.h"
#include "giambio/prng.h"

namespace giambio {
namespace {

template <typename T>
T run_virtual(Task<T> main) {
  RunOptions options;
  options.driver = DriverKind::kVirtual;
  return run(std::move(main), std::move(options));
}

Task<> empty_task() { co_return; }
Task<int> ready_int(int v) { co_return v; }

void BM_SpawnJoin(benchmark::State& state) {
  run_virtual(with_pool([&](Pool& pool) -> Task<> {
    for (auto _ : state) {
      TaskHandle<void> handle = pool.spawn(empty_task());
      co_await handle.join();
    }
  }));
}
BENCHMARK(BM_SpawnJoin);

// One iteration is one turn of the loop in which every one of `ready` tasks checkpoints once.
void BM_CheckpointRoundTrip(benchmark::State& state) {
  const int ready = static_cast<int>(state.range(0));
  run_virtual(with_pool([&](Pool& pool) -> Task<> {
    bool stop = false;
    for (int i = 1; i < ready; ++i) {
      pool.spawn([&]() -> Task<> {
        while (!stop) co_await checkpoint();
      });
    }
    for (auto _ : state) co_await checkpoint();
    stop = true;
  }));
  state.counters["per_checkpoint"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * ready,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_CheckpointRoundTrip)->Arg(2)->Arg(1000);

void BM_AwaitReadyTask(benchmark::State& state) {
  run_virtual([&]() -> Task<> {
    int sum = 0;
    for (auto _ : state) sum += co_await ready_int(1);
    benchmark::DoNotOptimize(sum);
  }());
}
BENCHMARK(BM_AwaitReadyTask);

// Two tasks bounce a message back and forth over two rendezvous channels; one iteration is two
// messages.
void BM_ChannelPingPong(benchmark::State& state) {
  run_virtual([&]() -> Task<> {
    auto [ping_tx, ping_rx] = open_memory_channel<int>(0);
    auto [pong_tx, pong_rx] = open_memory_channel<int>(0);
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        while (true) {
          absl::StatusOr<int> v = co_await ping_rx.receive();
          if (!v.ok()) co_return;
          (void)co_await pong_tx.send(*v + 1);
        }
      });
      int value = 0;
      for (auto _ : state) {
        (void)co_await ping_tx.send(value);
        value = *co_await pong_rx.receive();
      }
      ping_tx.close();
    });
  }());
  state.counters["per_message"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 2,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ChannelPingPong);

// One task takes and releases an uncontended lock: the cost of ownership tracking (a held lock
// is in the loop's list, so a holder that ends can break it) plus the schedule point.
void BM_UncontendedLock(benchmark::State& state) {
  run_virtual([&]() -> Task<> {
    Lock lock;
    for (auto _ : state) {
      co_await lock.acquire();
      lock.release();
    }
  }());
}
BENCHMARK(BM_UncontendedLock);

// 1M timers with random deadlines armed into the loop's timer heap, then all disarmed.
void BM_MillionTimersArmedAndCancelled(benchmark::State& state) {
  struct NoopTimer final : internal::Timer {
    void fire() override {}
  };
  constexpr int kTimers = 1'000'000;
  std::vector<NoopTimer> timers(kTimers);
  Prng prng(1);
  internal::TimerHeap heap;
  for (auto _ : state) {
    for (NoopTimer& timer : timers) {
      heap.arm(timer, absl::UnixEpoch() + absl::Nanoseconds(prng.uniform(1'000'000'000)));
    }
    for (NoopTimer& timer : timers) heap.disarm(timer);
  }
  state.counters["per_timer"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kTimers,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_MillionTimersArmedAndCancelled)->Unit(benchmark::kMillisecond);

// The same through the public API: a cancel scope with a deadline entered and left (arms and
// disarms its timer) around an empty body.
void BM_ScopeWithDeadline(benchmark::State& state) {
  run_virtual([&]() -> Task<> {
    for (auto _ : state) {
      CancelScope scope;
      scope.set_relative_deadline(absl::Seconds(1));
      co_await scope.run(empty_task());
    }
  }());
}
BENCHMARK(BM_ScopeWithDeadline);

Task<> sleeper() { co_await sleep(absl::Hours(1)); }

// Heap bytes in use, by malloc's own accounting (so chunk overhead counts too), including
// large blocks malloc serves with mmap (the loop's queues and the timer heap).
double heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}

// Heap bytes per spawned, sleeping task, beyond the task's own coroutine frame.
void BM_BytesPerSleepingTask(benchmark::State& state) {
  constexpr int kTasks = 100'000;
  double beyond_frame = 0;
  double frame = 0;
  for (auto _ : state) {
    run_virtual(with_pool([&](Pool& pool) -> Task<> {
      std::vector<Task<>> probes;
      probes.reserve(kTasks);
      double before = heap_in_use();
      for (int i = 0; i < kTasks; ++i) probes.push_back(sleeper());
      frame = (heap_in_use() - before) / kTasks;
      probes.clear();
      std::vector<TaskHandle<void>> handles;
      handles.reserve(kTasks);
      before = heap_in_use();
      for (int i = 0; i < kTasks; ++i) handles.push_back(pool.spawn(sleeper()));
      co_await sleep(absl::Seconds(1));  // every task is now suspended in its sleep
      const double per_task = (heap_in_use() - before) / kTasks;
      beyond_frame = per_task - frame;
      pool.cancel();
    }));
  }
  state.counters["frame_bytes"] = frame;
  state.counters["record_bytes"] = sizeof(internal::ChildTask<void>);
  state.counters["scope_bytes"] = sizeof(CancelScope);
  state.counters["bytes_beyond_frame"] = beyond_frame;
}
BENCHMARK(BM_BytesPerSleepingTask)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace giambio

BENCHMARK_MAIN();
