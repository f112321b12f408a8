// giambio/io_wait.h: waiting until a file descriptor is ready (Trio's wait_readable).
//
//   absl::Status s = co_await giambio::wait_readable(fd);   // then read(fd, ...) won't block
//
// The building block under giambio's streams on readiness-based drivers, and useful on its own
// for descriptors giambio does not wrap (pipes, eventfds, inotify). `fd` should be non-blocking.
// Completion says the descriptor is ready or has an error or hang-up to report: the next syscall
// on it will not block, and tells which.
//
// Errors come back as statuses that name the operation and the descriptor:
// "wait_readable(fd=-1): Bad file descriptor". At most one task may wait for each direction of
// a descriptor; a second gets an error status (EBUSY).
//
// Cancellation: a cancel point; a cancelled wait stops waiting and throws giambio::Cancelled,
// having consumed nothing.
#ifndef GIAMBIO_IO_WAIT_H_
#define GIAMBIO_IO_WAIT_H_

#include <coroutine>
#include <cstdint>

#include "absl/status/status.h"
#include "giambio/driver.h"
#include "giambio/internal/task_record.h"

namespace giambio {

class Loop;

namespace internal {

class ReadinessWait final : public Operation, public Blocker {
 public:
  ReadinessWait(OpKind kind, int fd);
  ~ReadinessWait() override;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> caller);
  absl::Status await_resume();

  const char* name() const override;
  void complete(int64_t result) override;
  bool abort() noexcept override;
  const char* waiting_on() const noexcept override { return name(); }

 private:
  Loop& loop_;
  TaskRecord* task_ = nullptr;
  int64_t result_ = 0;
  bool in_flight_ = false;
  bool blocked_ = false;
};

}  // namespace internal

internal::ReadinessWait wait_readable(int fd);
internal::ReadinessWait wait_writable(int fd);

}  // namespace giambio

#endif  // GIAMBIO_IO_WAIT_H_
