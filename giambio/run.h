// giambio/run.h: run(), the entry point of a giambio program.
//
//   giambio::Task<int> amain() { ...; co_return 0; }
//   int main() { return giambio::run(amain()); }
//
// run() creates a loop on the calling thread (on the driver RunOptions pick), runs `main` as
// its first task until it ends, and returns main's value or rethrows its exception. It throws
// DeadlockError if every task ends up waiting with nothing left that could wake one of them.
// Loops do not nest: run() inside a running loop throws UsageError.
#ifndef GIAMBIO_RUN_H_
#define GIAMBIO_RUN_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "giambio/driver.h"
#include "giambio/driver_choice.h"
#include "giambio/errors.h"
#include "giambio/instrument.h"
#include "giambio/loop.h"
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
};

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
  TaskHandle<T> handle = loop.start(std::move(main));
  loop.run_until_done(handle);
  return handle.take_result();
}

}  // namespace giambio

#endif  // GIAMBIO_RUN_H_
