// giambio/errors.h: the exceptions giambio throws.
//
// giambio reports operating errors (a refused connection, a full disk) as absl::Status values.
// Exceptions are kept for three things:
//   - Cancelled: the unwinding of a cancelled cancel scope. It deliberately does not derive from
//     std::exception, so `catch (const std::exception&)` in user code does not swallow it. Code
//     that catches `...` must rethrow it.
//   - MultiError: several errors that a task pool saw at once (see pool.h for the exact shape).
//   - UsageError: a misuse of the API (awaiting a task twice, spawning into a closed pool,
//     releasing a lock you do not hold). It names the operation and what was wrong.
//   - BrokenResourceError: a lock whose holder ended without releasing it (a bug in the holder,
//     reported to the innocent waiters rather than leaving them blocked forever).
#ifndef GIAMBIO_ERRORS_H_
#define GIAMBIO_ERRORS_H_

#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace giambio {

class CancelScope;

// Why a cancel scope was cancelled (Trio 0.31's cancel reasons). The first cancellation of a
// scope sets it; later ones do not change it.
struct CancelReason {
  enum class Source : uint8_t {
    kExplicit,   // CancelScope::cancel(reason), Pool::cancel(), TaskHandle::cancel()
    kDeadline,   // the scope's deadline passed
    kPoolError,  // something in the pool raised, and the pool cancels the rest
  };
  Source source = Source::kExplicit;
  // One line saying why: "cancelled by task 3 'client': shutting down", "the deadline passed",
  // "task 5 'worker' failed: disk full", "the pool's body failed: ...".
  std::string message;
};

// Thrown at a checkpoint inside a cancelled scope. It carries the scope that owns it (the
// outermost cancelled scope around the checkpoint that is not cut off by a shield); that scope
// catches it on exit and every other scope lets it pass. It also says why that scope was
// cancelled.
class Cancelled final {
 public:
  explicit Cancelled(uint64_t owner_scope_id, std::shared_ptr<const CancelReason> reason = nullptr)
      : owner_scope_id_(owner_scope_id), reason_(std::move(reason)) {}
  // The id of the scope that will catch this cancellation (CancelScope::id()).
  uint64_t owner_scope_id() const { return owner_scope_id_; }
  // Why the owner was cancelled; nullptr only for a Cancelled made by hand.
  const CancelReason* reason() const { return reason_.get(); }
  // The reason's message, or "giambio::Cancelled" without one.
  const char* what() const noexcept {
    return reason_ ? reason_->message.c_str() : "giambio::Cancelled";
  }

 private:
  uint64_t owner_scope_id_;
  std::shared_ptr<const CancelReason> reason_;
};

// A misuse of giambio's API. The message names the operation and the offending value.
class UsageError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Thrown by TaskHandle::join() when the joined task was cancelled through its handle.
class TaskCancelledError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by a Lock whose holder ended without releasing it, to every task that waited for it
// and every later acquire (Trio's BrokenResourceError). The message names the holder.
class BrokenResourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by run() when every task waits and nothing (timer, I/O) can ever wake one of them.
class DeadlockError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by run() when a signal of RunOptions::cancel_on_signals cancelled the main task and the
// task ended by that cancellation. what(): "interrupted by SIGTERM".
class Interrupted : public std::runtime_error {
 public:
  Interrupted(int signal, const std::string& message)
      : std::runtime_error(message), signal_(signal) {}
  int signal() const { return signal_; }
  // What a shell reports for a program that a signal ended: 128 + the signal (130 for SIGINT,
  // 143 for SIGTERM), for main() to return.
  int exit_status() const { return 128 + signal_; }

 private:
  int signal_;
};

// Two or more errors raised together, in the order they were raised.
class MultiError : public std::exception {
 public:
  explicit MultiError(std::vector<std::exception_ptr> errors);
  const std::vector<std::exception_ptr>& errors() const { return errors_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::vector<std::exception_ptr> errors_;
  std::string message_;
};

// A one-line description of an exception: its what() where it has one.
std::string describe(const std::exception_ptr& error);

}  // namespace giambio

#endif  // GIAMBIO_ERRORS_H_
