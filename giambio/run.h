// giambio/run.h: run(), the entry point of a giambio program.
//
//   giambio::Task<int> amain() { ...; co_return 0; }
//   int main() { return giambio::run(amain()); }
//
// run() creates a loop on the calling thread (with the driver RunOptions pick), runs `main` as
// its first task until it ends, and returns main's value or rethrows its exception. It throws
// DeadlockError if every task ends up waiting with nothing left that could wake one of them.
// Loops do not nest: run() inside a running loop throws UsageError.
#ifndef GIAMBIO_RUN_H_
#define GIAMBIO_RUN_H_

#include <utility>

#include "giambio/errors.h"
#include "giambio/loop.h"
#include "giambio/task.h"
#include "giambio/task_handle.h"

namespace giambio {

template <typename T>
T run(Task<T> main, RunOptions options = {}) {
  if (Loop::current_or_null() != nullptr) {
    throw UsageError("giambio::run: a loop already runs on this thread; await the task instead");
  }
  Loop loop(std::move(options));
  TaskHandle<T> handle = loop.start(std::move(main));
  loop.run_until_done(handle);
  return handle.take_result();
}

}  // namespace giambio

#endif  // GIAMBIO_RUN_H_
