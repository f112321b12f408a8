// giambio/io_wait.h: waiting until a file descriptor is ready (Trio's wait_readable).
//
//   absl::Status s = co_await giambio::wait_readable(fd);   // then read(fd, ...) won't block
//
// For descriptors giambio does not wrap (pipes, eventfds, inotify); `fd` should be
// non-blocking. Completion says the descriptor is ready or has an error or hang-up to report:
// the next syscall on it will not block, and tells which.
//
// Errors come back as statuses that name the operation and the descriptor:
// "wait_readable(fd=-1): Bad file descriptor". On the epoll driver at most one task may wait
// for each direction of a descriptor; a second gets an error status (EBUSY).
//
// Cancellation: a cancel point; a cancelled wait stops waiting and throws giambio::Cancelled,
// having consumed nothing.
#ifndef GIAMBIO_IO_WAIT_H_
#define GIAMBIO_IO_WAIT_H_

#include <coroutine>

#include "absl/status/status.h"
#include "giambio/internal/io_operation.h"

namespace giambio {
namespace internal {

class ReadinessWait {
 public:
  ReadinessWait(OpKind kind, int fd) : op_(kind, fd) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> caller) { return op_.await_suspend(caller); }
  absl::Status await_resume();

 private:
  IoOperation op_;
};

}  // namespace internal

internal::ReadinessWait wait_readable(int fd);
internal::ReadinessWait wait_writable(int fd);

}  // namespace giambio

#endif  // GIAMBIO_IO_WAIT_H_
