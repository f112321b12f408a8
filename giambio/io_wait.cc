#include "giambio/io_wait.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "giambio/loop.h"

namespace giambio {
namespace internal {

ReadinessWait::ReadinessWait(OpKind kind, int fd)
    : Operation(kind, fd),
      loop_(Loop::current(kind == OpKind::kWaitReadable ? "wait_readable" : "wait_writable")) {}

ReadinessWait::~ReadinessWait() {
  // The frame is destroyed while the wait is in flight (loop teardown): withdraw it first.
  if (in_flight_) loop_.driver().cancel(*this);
}

const char* ReadinessWait::name() const {
  return kind() == OpKind::kWaitReadable ? "wait_readable" : "wait_writable";
}

bool ReadinessWait::await_suspend(std::coroutine_handle<> caller) {
  task_ = &loop_.current_task(name());
  if (loop_.cancelled_before_wait(*task_)) return false;
  in_flight_ = true;
  try {
    loop_.driver().submit(*this);
  } catch (...) {
    in_flight_ = false;  // refused: nothing to withdraw later
    throw;
  }
  if (!in_flight_) return false;  // completed (failed) inside submit()
  blocked_ = true;
  loop_.block(*task_, *this, caller);
  return true;
}

void ReadinessWait::complete(int64_t result) {
  in_flight_ = false;
  result_ = result;
  if (blocked_ && result != -ECANCELED) {
    blocked_ = false;
    loop_.wake(*task_);
  }
}

bool ReadinessWait::abort() noexcept {
  // The epoll driver withdraws a readiness wait at once (complete(-ECANCELED) runs inside
  // cancel()). A driver that can only ask would leave it in flight, and the wait would end
  // when its completion arrives.
  loop_.driver().cancel(*this);
  if (in_flight_) return false;
  blocked_ = false;
  return true;
}

absl::Status ReadinessWait::await_resume() {
  loop_.check_aborted(*task_);
  if (result_ >= 0) return absl::OkStatus();
  const int error = static_cast<int>(-result_);
  return absl::ErrnoToStatus(error, absl::StrCat(name(), "(fd=", fd(), ")"));
}

}  // namespace internal

internal::ReadinessWait wait_readable(int fd) {
  return internal::ReadinessWait(OpKind::kWaitReadable, fd);
}

internal::ReadinessWait wait_writable(int fd) {
  return internal::ReadinessWait(OpKind::kWaitWritable, fd);
}

}  // namespace giambio
