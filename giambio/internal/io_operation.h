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

#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/check.h"
#include "giambio/driver.h"
#include "giambio/internal/task_record.h"
#include "giambio/loop.h"

namespace giambio::internal {

// Every read and write passes through here twice: the awaiting steps are inline.
class IoOperation final : public Operation, public Blocker {
 public:
  IoOperation(OpKind kind, int fd) : Operation(kind, fd), loop_(loop_of(kind)) {}
  IoOperation(const IoOperation&) = delete;
  ~IoOperation() override {
    // Loop teardown drains every operation (Driver::cancel_all) before it destroys frames.
    GIAMBIO_CHECK(!in_flight_, name(), ": an I/O operation was destroyed while the driver ",
                  "still owned it");
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> caller) {
    task_ = loop_.running_task();
    if (task_ == nullptr) [[unlikely]] {
      Loop::not_in_task(name());
    }
    if (loop_.cancelled_before_wait(*task_)) return false;
    cancel_reached_ = false;  // an operation awaited again (a stream's, stream_core.h) starts fresh
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
  // The driver's result: >= 0, or a negated errno. Throws Cancelled if the operation was
  // withdrawn because of a cancellation.
  int64_t await_resume() {
    loop_.check_aborted(*task_);
    // Withdrawn asynchronously (the driver could only ask): a cancellation, if one still applies.
    if (result_ == -ECANCELED) [[unlikely]] {
      loop_.check_cancel(*task_);
    }
    return result_;
  }

  void complete(int64_t result) override;
  bool abort() noexcept override;
  const char* waiting_on() const noexcept override { return name(); }

  // An operation that goes on by itself (write_all's rounds, stream_transfer.h): after each
  // completion `more` may point the operation at its next round and return true; the driver then
  // gets it again and the task keeps waiting, not resumed in between. Once a cancellation has
  // reached the task `more` is not asked, and that round's result wakes the task.
  using More = bool (*)(IoOperation& op, int64_t result, void* context);
  void go_on_with(More more, void* context) {
    more_ = more;
    more_context_ = context;
  }
  // Throws the cancellation that reached the waiting task, if one applies (for an operation
  // whose rounds a cancellation cut short).
  void check_cancel();

  // An operation may be awaited again once its await has ended (a stream keeps one per
  // direction), by tasks of the loop it was made on.
  bool on_current_loop() const { return &loop_ == Loop::current_or_null(); }
  bool in_flight() const { return in_flight_; }

 private:
  // The current loop; without one, UsageError naming the operation (made only then).
  static Loop& loop_of(OpKind kind) {
    Loop* const loop = Loop::current_or_null();
    if (loop == nullptr) [[unlikely]] {
      Loop::no_loop(op_name(kind));
    }
    return *loop;
  }
  // Submits the next round; a round completed inside submit() (a driver that tries at once)
  // loops here instead of nesting.
  void resubmit();

  Loop& loop_;
  TaskRecord* task_ = nullptr;
  int64_t result_ = 0;
  More more_ = nullptr;
  void* more_context_ = nullptr;
  bool in_flight_ = false;
  bool blocked_ = false;
  bool aborting_ = false;
  bool cancel_reached_ = false;  // abort() was asked: no more rounds
  bool resubmitting_ = false;
  bool resubmit_again_ = false;
};

// An errno as a status whose message names the operation: "connect(127.0.0.1:9): Connection
// refused". `what` is what the operation was applied to (an address, "fd=5", a path).
absl::Status errno_status(int error, const char* operation, const std::string& what);

// The calls of the I/O API that never wait go here: the current loop's driver, or the real
// system calls when no loop runs on this thread (a listener closed after its loop ended).
SystemCalls& system_calls();

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_IO_OPERATION_H_
