// giambio/driver.h: the seam between the scheduler and whatever performs I/O and keeps time.
//
// The scheduler (loop.h) owns tasks, timers and cancel scopes; a Driver owns the outside world.
// Three drivers sit under the same scheduler: the virtual-clock driver (virtual/, no I/O, time
// jumps to the next timer; for tests), the epoll driver (epoll/) and, later, the io_uring
// driver and the simulator's driver (sim/). The scheduler never knows which one it runs on.
//
// The contract, in the order the loop uses it each turn:
//   - now(): the driver's clock. Every time giambio reports comes from here, never from the
//     wall clock directly, so a simulated driver controls time completely.
//   - submit(op) / cancel(op): start an operation, or ask it to stop. An operation completes
//     exactly once, by the driver calling op.complete(result) from inside poll(), also after
//     cancel (then usually with -ECANCELED). The driver keeps op's buffers in use until then.
//   - poll(deadline): deliver the completions that are ready, waiting for one until `deadline`
//     at most (absl::InfinitePast(): do not wait). A virtual clock advances to `deadline`.
//   - pending(): operations submitted and not completed; the loop uses it to tell a program
//     that waits for I/O from one that can never wake up (a deadlock).
#ifndef GIAMBIO_DRIVER_H_
#define GIAMBIO_DRIVER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/time/time.h"

namespace giambio {

// What an operation does. Every driver handles every kind (the virtual-clock driver refuses all
// I/O with a UsageError).
enum class OpKind : uint8_t {
  kWaitReadable,  // fd: completes with the readiness mask (EPOLLIN...) when fd is readable
  kWaitWritable,  // fd: completes when fd is writable
};

// One I/O request: a plain description that a driver can carry out. The awaiter that owns it
// derives from it; complete() wakes the waiting task.
class Operation {
 public:
  Operation(OpKind kind, int fd) : kind_(kind), fd_(fd) {}
  virtual ~Operation() = default;
  OpKind kind() const { return kind_; }
  int fd() const { return fd_; }
  // The operation's name for errors and traces, e.g. "wait_readable".
  virtual const char* name() const = 0;
  // Called by the driver, on the loop thread, exactly once: `result` is >= 0 on success or a
  // negated errno, as io_uring reports it.
  virtual void complete(int64_t result) = 0;

 private:
  OpKind kind_;
  int fd_;
};

class Driver {
 public:
  virtual ~Driver() = default;

  // A short name for logs and errors: "epoll", "virtual", "io_uring", "sim".
  virtual const char* name() const = 0;
  virtual absl::Time now() = 0;
  virtual void submit(Operation& op) = 0;
  virtual void cancel(Operation& op) = 0;
  virtual void poll(absl::Time deadline) = 0;
  virtual size_t pending() const = 0;
};

}  // namespace giambio

#endif  // GIAMBIO_DRIVER_H_
