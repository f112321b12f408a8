// giambio/internal/io_operation.h: one Operation run on the loop's driver as a wait of the
// current task; the awaiter under every I/O call (sockets, readiness waits, files).
//
// Cancellation (docs/architecture.md, "I/O"): when a cancellation reaches the waiting task, the
// driver is asked to withdraw the operation. If it is withdrawn (-ECANCELED), the task throws
// giambio::Cancelled and nothing was consumed. If the operation had already done its work, its
// real result is returned (no data is lost) and the task sees the cancellation at its next
// cancel point. Either way the operation's buffers stay in use until the driver has completed
// it, so the awaiter (which lives in the waiting coroutine's frame) keeps them alive.
#ifndef GIAMBIO_INTERNAL_IO_OPERATION_H_
#define GIAMBIO_INTERNAL_IO_OPERATION_H_

#include <coroutine>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/driver.h"
#include "giambio/internal/task_record.h"

namespace giambio {

class Loop;

namespace internal {

class IoOperation final : public Operation, public Blocker {
 public:
  IoOperation(OpKind kind, int fd);
  IoOperation(const IoOperation&) = delete;
  ~IoOperation() override;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> caller);
  // The driver's result: >= 0, or a negated errno. Throws Cancelled if the operation was
  // withdrawn because of a cancellation.
  int64_t await_resume();

  void complete(int64_t result) override;
  bool abort() noexcept override;
  const char* waiting_on() const noexcept override { return name(); }

 private:
  Loop& loop_;
  TaskRecord* task_ = nullptr;
  int64_t result_ = 0;
  bool in_flight_ = false;
  bool blocked_ = false;
  bool aborting_ = false;
};

// An errno as a status whose message names the operation: "connect(127.0.0.1:9): Connection
// refused". `what` is what the operation was applied to (an address, "fd=5", a path).
absl::Status errno_status(int error, const char* operation, const std::string& what);

// The calls of the I/O API that never wait go here: the current loop's driver, or the real
// system calls when no loop runs on this thread (a listener closed after its loop ended).
SystemCalls& system_calls();

}  // namespace internal
}  // namespace giambio

#endif  // GIAMBIO_INTERNAL_IO_OPERATION_H_
