#include "giambio/internal/io_operation.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "giambio/loop.h"

namespace giambio::internal {

void IoOperation::complete(int64_t result) {
  if (more_ != nullptr && !cancel_reached_ && more_(*this, result, more_context_)) {
    resubmit();
    return;
  }
  result_ = result;
  in_flight_ = false;
  if (blocked_ && !aborting_) {
    blocked_ = false;
    loop_.wake(*task_);
  }
}

void IoOperation::resubmit() {
  if (resubmitting_) {
    resubmit_again_ = true;  // the loop below submits it once this call returns
    return;
  }
  resubmitting_ = true;
  do {
    resubmit_again_ = false;
    loop_.driver().submit(*this);
  } while (resubmit_again_);
  resubmitting_ = false;
}

void IoOperation::check_cancel() { loop_.check_cancel(*task_); }

bool IoOperation::abort() noexcept {
  cancel_reached_ = true;
  aborting_ = true;
  loop_.driver().cancel(*this);
  aborting_ = false;
  if (in_flight_) return false;  // the driver only asked; the completion will wake the task
  blocked_ = false;
  if (result_ == -ECANCELED) return true;  // withdrawn: the task throws Cancelled
  // It finished meanwhile: deliver the real result; the cancellation waits for the next
  // cancel point.
  loop_.wake(*task_);
  return false;
}

absl::Status errno_status(int error, const char* operation, const std::string& what) {
  return absl::ErrnoToStatus(error, absl::StrCat(operation, "(", what, ")"));
}

SystemCalls& system_calls() {
  static SystemCalls* const real = new SystemCalls();
  Loop* const loop = Loop::current_or_null();
  return loop != nullptr ? loop->driver() : *real;
}

}  // namespace giambio::internal
