#include "giambio/condition.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"
#include "giambio/loop.h"

namespace giambio {

Task<> Condition::wait() {
  Loop& loop = Loop::current("Condition::wait");
  const uint64_t caller = loop.current_task("Condition::wait").id();
  if (lock_.owner() != caller) {
    throw UsageError(absl::StrCat("Condition::wait: task ", caller, " does not hold the lock"));
  }
  lock_.release();
  std::exception_ptr cancelled;
  try {
    co_await waiters_.park();
  } catch (...) {
    cancelled = std::current_exception();
  }
  co_await lock_.acquire_uncancellable();
  if (cancelled) std::rethrow_exception(cancelled);
}

}  // namespace giambio
