#include "giambio/internal/io_operation.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "giambio/loop.h"

namespace giambio::internal {

IoOperation::IoOperation(OpKind kind, int fd)
    : Operation(kind, fd), loop_(Loop::current(op_name(kind))) {}

IoOperation::~IoOperation() {
  // Loop teardown drains every operation (Driver::cancel_all) before it destroys frames.
  GIAMBIO_CHECK(!in_flight_, name(), ": an I/O operation was destroyed while the driver ",
                "still owned it");
}

bool IoOperation::await_suspend(std::coroutine_handle<> caller) {
  task_ = &loop_.current_task(name());
  if (loop_.cancelled_before_wait(*task_)) return false;
  in_flight_ = true;
  try {
    loop_.driver().submit(*this);
  } catch (...) {
    in_flight_ = false;  // refused: nothing to withdraw later
    throw;
  }
  if (!in_flight_) return false;  // completed inside submit()
  blocked_ = true;
  loop_.block(*task_, *this, caller);
  return true;
}

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

int64_t IoOperation::await_resume() {
  loop_.check_aborted(*task_);
  // Withdrawn asynchronously (the driver could only ask): a cancellation, if one still applies.
  if (result_ == -ECANCELED) loop_.check_cancel(*task_);
  return result_;
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
