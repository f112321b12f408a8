// giambio/instrument.h: hooks that watch the loop at work (giambio's "debugger").
//
// Derive from Instrument, override the hooks you care about (every hook does nothing by default)
// and add it with Loop::add_instrument or RunOptions::instruments. Hooks run on the loop thread,
// synchronously, in the order the instruments were added. An instrument may add or remove
// instruments (itself included) from inside a hook; the change applies from the next event.
// An instrument whose hook throws is removed (the error is printed to stderr once) and the run
// goes on: a broken debugger never breaks the program it watches.
//
// Hooks must not suspend or touch the scheduler (spawn, cancel); they observe.
#ifndef GIAMBIO_INSTRUMENT_H_
#define GIAMBIO_INSTRUMENT_H_

#include <cstdint>
#include <exception>
#include <string_view>

#include "absl/time/time.h"

namespace giambio {

// What an instrument is told about a task. Ids are handed out by the loop in spawn order
// (the main task is 1), so they are the same in every run of a deterministic program.
// `domain` is 0 unless a simulator has put the task on one of its hosts (see TaskRecord::domain).
struct TaskInfo {
  uint64_t id;
  std::string_view name;
  uint32_t domain = 0;
};

class Instrument {
 public:
  virtual ~Instrument() = default;

  virtual void on_run_start() {}
  virtual void on_run_end() {}
  virtual void on_task_spawned(const TaskInfo&) {}
  // The task became ready to run (woken, yielded, or just spawned).
  virtual void on_task_scheduled(const TaskInfo&) {}
  virtual void before_task_step(const TaskInfo&) {}
  virtual void after_task_step(const TaskInfo&) {}
  virtual void on_task_exited(const TaskInfo&) {}
  // A task starts sleeping for `duration` (giambio::sleep, sleep_until, sleep_forever).
  virtual void before_sleep(const TaskInfo&, absl::Duration) {}
  // The task's sleep ended, normally or by cancellation.
  virtual void after_sleep(const TaskInfo&, absl::Duration) {}
  // The loop waits for I/O (or for the next timer) for at most `timeout`.
  virtual void before_io_wait(absl::Duration) {}
  virtual void after_io_wait(absl::Duration) {}
  // A cancellation is delivered to a task (it will see giambio::Cancelled) ...
  virtual void before_cancel(const TaskInfo&) {}
  // ... and the task has ended because of it.
  virtual void after_cancel(const TaskInfo&) {}
  // A task ended with an exception other than a cancellation.
  virtual void on_exception_raised(const TaskInfo&, const std::exception_ptr&) {}
};

}  // namespace giambio

#endif  // GIAMBIO_INSTRUMENT_H_
