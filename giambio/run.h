// giambio/run.h: run(), the entry point of a giambio program.
//
//   giambio::Task<int> amain() { ...; co_return 0; }
//   int main() { return giambio::run(amain()); }
//
// run() creates a loop on the calling thread (on the driver RunOptions pick), runs `main` as
// its first task until it ends, and returns main's value or rethrows its exception. It throws
// DeadlockError if every task ends up waiting with nothing left that could wake one of them.
// Loops do not nest: run() inside a running loop throws UsageError.
//
// Ctrl-C and SIGTERM as cancellation, for a program's entry point:
//
//   int main() {
//     giambio::RunOptions options;
//     options.cancel_on_signals = {SIGINT, SIGTERM};
//     try {
//       return giambio::run(amain(), std::move(options));
//     } catch (const giambio::Interrupted& interrupted) {
//       return interrupted.exit_status();   // 130 for Ctrl-C, 143 for SIGTERM
//     }
//   }
//
// The first of those signals cancels the main task with the signal's name as the reason
// ("SIGTERM"), so its pools, cleanups and destructors unwind as for any cancellation; if main
// ends by that cancellation, run() throws Interrupted. A second one while main unwinds ends the
// process at once, by that signal (Trio's and Go's "press Ctrl-C twice"). Off by default:
// receiving signals blocks them on the loop's thread, which threads and processes started from it
// inherit, and run() is also how tests and libraries run a loop; a program's main() opts in with
// one line. While it is on, a program on a real driver whose tasks all wait forever waits for
// the signal instead of raising DeadlockError. In a simulation, the signals are the simulated
// host's (sim::World::signal).
#ifndef GIAMBIO_RUN_H_
#define GIAMBIO_RUN_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "giambio/cancel_scope.h"
#include "giambio/check.h"
#include "giambio/driver.h"
#include "giambio/driver_choice.h"
#include "giambio/errors.h"
#include "giambio/instrument.h"
#include "giambio/loop.h"
#include "giambio/pool.h"
#include "giambio/signals.h"
#include "giambio/task.h"
#include "giambio/task_handle.h"

namespace giambio {

struct RunOptions {
  DriverKind driver = DriverKind::kAuto;
  // The virtual clock's autojump threshold, when the driver is kVirtual (driver_choice.h).
  VirtualClockOptions virtual_clock = {};
  // A driver of your own (the simulator's); takes precedence over `driver`.
  std::unique_ptr<Driver> custom_driver = nullptr;
  // Shuffle each batch of ready tasks with this seed (loop.h, the loop's turn).
  std::optional<uint64_t> schedule_seed = std::nullopt;
  // Instruments to add before the main task starts; not owned, must outlive the run.
  std::vector<Instrument*> instruments = {};
  // Signals that cancel the main task (above): {SIGINT, SIGTERM} for a program. Empty: none.
  std::vector<int> cancel_on_signals = {};
};

namespace internal {

// cancel_on_signals (above): runs `main` in a cancel scope beside a task that receives the
// signals; the first cancels the scope with the signal's name, a second ends the process.
// Throws UsageError naming a signal that cannot be received.
SignalReceiver open_interrupt_receiver(const std::vector<int>& signals);
Task<> watch_for_interrupts(SignalReceiver& receiver, CancelScope& main_scope, int& signal);

template <typename T>
Task<T> cancel_on_signals(Task<T> main, std::vector<int> signals) {
  SignalReceiver receiver = open_interrupt_receiver(signals);
  CancelScope scope;
  int signal = 0;
  std::conditional_t<std::is_void_v<T>, bool, ScopeResult<T>> result{};
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn(watch_for_interrupts(receiver, scope, signal), "cancel_on_signals");
    if constexpr (std::is_void_v<T>) {
      co_await scope.run(std::move(main));
    } else {
      result = co_await scope.run(std::move(main));
    }
    pool.cancel();
  });
  if (scope.cancelled_caught() && signal != 0) {
    throw Interrupted(signal, "interrupted by " + signal_name(signal));
  }
  if constexpr (!std::is_void_v<T>) {
    GIAMBIO_CHECK(result.has_value(), "main's scope caught a cancellation nobody sent");
    co_return std::move(*result);
  }
}

}  // namespace internal

template <typename T>
T run(Task<T> main, RunOptions options = {}) {
  if (Loop::current_or_null() != nullptr) {
    throw UsageError("giambio::run: a loop already runs on this thread; await the task instead");
  }
  std::unique_ptr<Driver> driver = options.custom_driver
                                       ? std::move(options.custom_driver)
                                       : make_driver(options.driver, options.virtual_clock);
  Loop loop(std::move(driver), LoopOptions{.schedule_seed = options.schedule_seed,
                                           .instruments = std::move(options.instruments)});
  if (!options.cancel_on_signals.empty()) {
    main = internal::cancel_on_signals(std::move(main), std::move(options.cancel_on_signals));
  }
  TaskHandle<T> handle = loop.start(std::move(main));
  loop.run_until_done(handle);
  loop.finish_guests();
  return handle.take_result();
}

}  // namespace giambio

#endif  // GIAMBIO_RUN_H_
