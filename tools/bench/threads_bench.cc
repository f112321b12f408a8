// Threads in and out of the loop, side by side with Asio:
//
//   bazel run --config=opt //tools/bench:threads_bench
//
// - CallIntoLoop: another thread posts a call and waits (spinning) until the loop has run it:
//   giambio's LoopToken::run_soon against asio::post to an io_context on its own thread. One
//   iteration is one round trip, so the time per iteration is the latency.
// - PostBurst: another thread posts 1000 calls and waits for the last: calls per second.
// - ToThread: a task awaits to_thread of an empty callable (giambio only: Asio has no
//   equivalent in the core library).
// - SubmitTo: a task on one loop awaits an empty task on another loop (run_loops, two threads;
//   on io_uring each hop rings the other loop's doorbell, MSG_RING; on epoll it writes an
//   eventfd), against Asio: the benchmark thread's io_context posts to another thread's, whose
//   handler posts back. One iteration is one round trip.
#include <asio.hpp>
#include <atomic>
#include <future>
#include <thread>

#include "benchmark/benchmark.h"
#include "giambio/giambio.h"
#include "giambio/threads.h"

namespace {

// A giambio loop on its own thread, reachable through a token until the benchmark ends.
class GiambioLoopThread {
 public:
  GiambioLoopThread() {
    std::promise<giambio::LoopToken> token;
    std::future<giambio::LoopToken> ready = token.get_future();
    thread_ = std::thread([this, &token] {
      giambio::run(
          [](GiambioLoopThread* self, std::promise<giambio::LoopToken>* token) -> giambio::Task<> {
            token->set_value(giambio::current_loop_token());
            co_await self->stop_.wait();
          }(this, &token));
    });
    token_.emplace(ready.get());
  }
  ~GiambioLoopThread() {
    (void)token_->run_soon([this] { stop_.set(); });
    token_.reset();
    thread_.join();
  }
  const giambio::LoopToken& token() const { return *token_; }

 private:
  giambio::Event stop_;
  std::optional<giambio::LoopToken> token_;
  std::thread thread_;
};

void BM_CallIntoLoop_Giambio(benchmark::State& state) {
  GiambioLoopThread loop;
  std::atomic<bool> ran{false};
  for (auto _ : state) {
    ran.store(false, std::memory_order_relaxed);
    (void)loop.token().run_soon([&] { ran.store(true, std::memory_order_release); });
    while (!ran.load(std::memory_order_acquire)) {
    }
  }
}
BENCHMARK(BM_CallIntoLoop_Giambio)->UseRealTime();

void BM_CallIntoLoop_Asio(benchmark::State& state) {
  asio::io_context context;
  auto guard = asio::make_work_guard(context);
  std::thread runner([&] { context.run(); });
  std::atomic<bool> ran{false};
  for (auto _ : state) {
    ran.store(false, std::memory_order_relaxed);
    asio::post(context, [&] { ran.store(true, std::memory_order_release); });
    while (!ran.load(std::memory_order_acquire)) {
    }
  }
  guard.reset();
  runner.join();
}
BENCHMARK(BM_CallIntoLoop_Asio)->UseRealTime();

constexpr int kBurst = 1000;

void BM_PostBurst_Giambio(benchmark::State& state) {
  GiambioLoopThread loop;
  std::atomic<int> ran{0};
  for (auto _ : state) {
    ran.store(0, std::memory_order_relaxed);
    for (int i = 0; i < kBurst; ++i) {
      (void)loop.token().run_soon([&] { ran.fetch_add(1, std::memory_order_release); });
    }
    while (ran.load(std::memory_order_acquire) != kBurst) {
    }
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_PostBurst_Giambio)->UseRealTime();

void BM_PostBurst_Asio(benchmark::State& state) {
  asio::io_context context;
  auto guard = asio::make_work_guard(context);
  std::thread runner([&] { context.run(); });
  std::atomic<int> ran{0};
  for (auto _ : state) {
    ran.store(0, std::memory_order_relaxed);
    for (int i = 0; i < kBurst; ++i) {
      asio::post(context, [&] { ran.fetch_add(1, std::memory_order_release); });
    }
    while (ran.load(std::memory_order_acquire) != kBurst) {
    }
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
  guard.reset();
  runner.join();
}
BENCHMARK(BM_PostBurst_Asio)->UseRealTime();

void BM_ToThread(benchmark::State& state) {
  giambio::run([](benchmark::State& state) -> giambio::Task<> {
    for (auto _ : state) co_await giambio::to_thread([] {});
  }(state));
}
BENCHMARK(BM_ToThread)->UseRealTime();

void BM_SubmitTo_Giambio(benchmark::State& state) {
  giambio::LoopsOptions options;
  options.driver = state.range(0) == 0 ? giambio::DriverKind::kUring : giambio::DriverKind::kEpoll;
  state.SetLabel(state.range(0) == 0 ? "io_uring" : "epoll");
  giambio::run_loops(options,
                     [&state](const giambio::LoopGroup& group, size_t i) -> giambio::Task<> {
                       if (i != 0) co_return;
                       auto nothing = []() -> giambio::Task<> { co_return; };
                       for (auto _ : state) co_await giambio::submit_to(group[1], nothing);
                     });
}
BENCHMARK(BM_SubmitTo_Giambio)->Arg(0)->Arg(1)->UseRealTime();

void BM_SubmitTo_Asio(benchmark::State& state) {
  asio::io_context here;
  asio::io_context there;
  auto keep_here = asio::make_work_guard(here);
  auto keep_there = asio::make_work_guard(there);
  std::thread runner([&] { there.run(); });
  for (auto _ : state) {
    bool done = false;
    asio::post(there, [&] { asio::post(here, [&] { done = true; }); });
    while (!done) here.run_one();
  }
  keep_there.reset();
  runner.join();
}
BENCHMARK(BM_SubmitTo_Asio)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
