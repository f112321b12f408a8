// tools/tour.cc: a two-second tour of giambio, and the program the README's Quick start runs.
//
//   bazel run //tools:tour                  # real time, on the epoll driver
//   bazel run //tools:tour -- --virtual     # the same program on a virtual clock: no waiting
//
// It runs the classic giambio examples in order: a pool of workers, a pool that fails and
// cancels its siblings, a with_timeout that fires, and a skip_after that moves on. Each line
// shows the loop's time, so the concurrency is visible.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "giambio/giambio.h"

ABSL_FLAG(bool, virtual, false, "Run on the virtual clock: the same program, no waiting.");
ABSL_FLAG(double, scale, 1.0, "Multiply every sleep by this factor (> 0).");

namespace {

using giambio::Pool;
using giambio::Task;

absl::Time start_time;
double scale = 1.0;

absl::Duration scaled(absl::Duration d) { return d * scale; }

void say(const std::string& line) {
  absl::PrintF("[%7.3fs] %s\n", absl::ToDoubleSeconds(giambio::now() - start_time), line);
  std::fflush(stdout);
}

Task<int> worker(std::string name, absl::Duration work, int result) {
  say(name + ": started, working for " + absl::FormatDuration(work));
  co_await giambio::sleep(scaled(work));
  say(name + ": done");
  co_return result;
}

Task<> failing_worker(absl::Duration after) {
  co_await giambio::sleep(scaled(after));
  say("failing worker: raising an error");
  throw std::runtime_error("the failing worker failed");
}

Task<> patient_worker() {
  try {
    co_await giambio::sleep_forever();
  } catch (const giambio::Cancelled&) {
    say("patient worker: cancelled by its failing sibling");
    throw;
  }
}

Task<int> tour() {
  start_time = giambio::now();

  say("1. a pool of three workers; the block waits for all of them");
  int total = co_await giambio::with_pool([](Pool& pool) -> Task<int> {
    auto a = pool.spawn(worker("worker a", absl::Milliseconds(300), 1), "a");
    auto b = pool.spawn(worker("worker b", absl::Milliseconds(100), 2), "b");
    auto c = pool.spawn(worker("worker c", absl::Milliseconds(200), 3), "c");
    co_return co_await a.join() + co_await b.join() + co_await c.join();
  });
  say("   pool done, total " + std::to_string(total));

  say("2. a failing task cancels its siblings, and the pool rethrows its error");
  try {
    co_await giambio::with_pool([](Pool& pool) -> Task<> {
      pool.spawn(patient_worker(), "patient");
      pool.spawn(failing_worker(absl::Milliseconds(200)), "failing");
      co_return;
    });
  } catch (const std::runtime_error& e) {
    say(std::string("   caught: ") + e.what());
  }

  say("3. with_timeout: a slow pool is cut short, and the timeout comes back as a status");
  absl::Status status = co_await giambio::with_timeout(
      scaled(absl::Milliseconds(250)), giambio::with_pool([](Pool& pool) -> Task<> {
        pool.spawn(worker("quick", absl::Milliseconds(100), 0));
        pool.spawn(worker("slow", absl::Seconds(10), 0));
        co_return;
      }));
  say("   status: " + status.ToString());

  say("4. skip_after: give up quietly and move on");
  std::optional<int> answer = co_await giambio::skip_after(scaled(absl::Milliseconds(150)),
                                                           worker("ponder", absl::Seconds(5), 42));
  say(answer ? "   answer " + std::to_string(*answer) : "   skipped, no answer");

  say("tour complete");
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  scale = absl::GetFlag(FLAGS_scale);
  if (!(scale > 0)) {
    std::fprintf(stderr, "tour: --scale=%g: must be a number greater than 0\n", scale);
    return 2;
  }
  giambio::RunOptions options;
  if (absl::GetFlag(FLAGS_virtual)) options.driver = giambio::DriverKind::kVirtual;
  return giambio::run(tour(), std::move(options));
}
