// giambio/driver.h: the seam between the scheduler and whatever performs I/O and keeps time.
//
// The scheduler (loop.h) owns tasks, timers and cancel scopes; a Driver owns the outside world.
// Drivers under the same scheduler: io_uring (uring/, production), epoll (epoll/, where io_uring
// is unavailable), the virtual clock (virtual/, no I/O; for tests) and the simulator's driver
// (sim/sim_driver.h). driver_choice.h picks one for run(); the scheduler and the I/O API never
// know which one they run on.
//
// The contract, in the order the loop uses it each turn:
//   - now(): the driver's clock. Every time giambio reports comes from here, never from the
//     wall clock directly, so a simulated driver controls time completely.
//   - submit(op) / cancel(op): start an operation, or ask it to stop. An operation completes
//     exactly once, by the driver calling op.complete(result), from inside submit(), cancel()
//     or poll(); after cancel() usually with -ECANCELED, but an operation that had already
//     finished completes with its real result. Until complete() runs, the driver (or the
//     kernel) may still use op's buffers, so their owner must not go away.
//   - poll(deadline): deliver the completions that are ready, waiting for one until `deadline`
//     at most (absl::InfinitePast(): do not wait). A virtual clock advances to `deadline`.
//   - pending(): operations submitted and not completed; the loop uses it to tell a program
//     that waits for I/O from one that can never wake up (a deadlock).
//   - cancel_all(): withdraw every operation and wait until each has completed; the loop calls
//     it when it is torn down, before the frames that own the operations are destroyed.
//   - jump(d), clock_moves_by_itself(): a test's hold on a virtual clock (below).
// A Driver is also the SystemCalls of its loop: the calls of the I/O API that never wait
// (socket, bind, close, ...). The base class makes the real system calls; the simulator answers
// them from its simulated world, so every call of the I/O API crosses this one seam.
#ifndef GIAMBIO_DRIVER_H_
#define GIAMBIO_DRIVER_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace giambio {

namespace internal {
class SignalHub;
}

// What an operation does: one system call (or one readiness wait), described by the fields of
// Operation that its comment names. `result` is what complete() receives on success.
enum class OpKind : uint8_t {
  kWaitReadable,    // fd; result: a readiness mask
  kWaitWritable,    // fd; result: a readiness mask
  kAccept,          // fd, address/address_length (out, may be null); result: the new fd
  kConnect,         // fd, address/address_length (in); result: 0
  kReceive,         // fd, buffer, length, flags; result: bytes received (0: end of stream)
  kSend,            // fd, buffer, length, flags; result: bytes sent
  kRead,            // fd, buffer, length: a stream (pipe, tty) read; result: bytes (0: end)
  kWrite,           // fd, buffer, length: a stream write; result: bytes written
  kOpen,            // path, flags, mode; result: the new fd
  kReadAt,          // fd, buffer, length, offset: a file read; result: bytes (0: end of file)
  kWriteAt,         // fd, buffer, length, offset: a file write; result: bytes written
  kSync,            // fd: fsync; result: 0
  kSendMessage,     // fd, message (sendmsg): a datagram with its destination; result: bytes
  kReceiveMessage,  // fd, message (recvmsg): a datagram and its source; result: bytes
  kResolve,         // path (a host name), flags (AF_UNSPEC, AF_INET or AF_INET6), buffer (an
                    // array of `length` sockaddr_storage, filled in); result: how many
                    // addresses; -ENOENT: no such host; -EAGAIN: the resolver did not answer
};

// True for the kinds that work on files, which readiness cannot wait for (the epoll driver runs
// them on worker threads).
inline bool is_file_op(OpKind kind) {
  return kind == OpKind::kOpen || kind == OpKind::kReadAt || kind == OpKind::kWriteAt ||
         kind == OpKind::kSync;
}

// The operation's name, for errors and traces: "accept", "recv", ... Inline: every operation
// names itself on its way in (a table read, not a call).
inline const char* op_name(OpKind kind) {
  switch (kind) {
    case OpKind::kWaitReadable:
      return "wait_readable";
    case OpKind::kWaitWritable:
      return "wait_writable";
    case OpKind::kAccept:
      return "accept";
    case OpKind::kConnect:
      return "connect";
    case OpKind::kReceive:
      return "recv";
    case OpKind::kSend:
      return "send";
    case OpKind::kRead:
      return "read";
    case OpKind::kWrite:
      return "write";
    case OpKind::kOpen:
      return "open";
    case OpKind::kReadAt:
      return "pread";
    case OpKind::kWriteAt:
      return "pwrite";
    case OpKind::kSync:
      return "fsync";
    case OpKind::kSendMessage:
      return "sendmsg";
    case OpKind::kReceiveMessage:
      return "recvmsg";
    case OpKind::kResolve:
      return "getaddrinfo";
  }
  return "unknown operation";
}

// One I/O request: a plain description that a driver carries out. The awaiter that owns it
// derives from it and is told the result through complete().
class Operation {
  // First, beside the vtable pointer: a driver reads the kind when it delivers the completion,
  // so both share a cache line with the hot fields below.
  OpKind kind_;
  int fd_;

 public:
  Operation(OpKind kind, int fd) : kind_(kind), fd_(fd) {}
  virtual ~Operation() = default;
  OpKind kind() const { return kind_; }
  int fd() const { return fd_; }
  const char* name() const { return op_name(kind_); }

  // Called by the driver, on the loop thread, exactly once per submit(): `result` is >= 0 on
  // success or a negated errno, as io_uring reports it. It may submit the same operation again
  // before it returns (IoOperation::go_on_with: write_all's next round), so a driver calls it
  // only once it is done with that submission's state.
  virtual void complete(int64_t result) = 0;

  void* buffer = nullptr;
  size_t length = 0;
  int64_t offset = 0;
  int flags = 0;
  uint32_t mode = 0;
  const char* path = nullptr;
  msghdr* message = nullptr;
  sockaddr* address = nullptr;
  socklen_t* address_length = nullptr;
  // Scratch space for the driver that carries the operation out.
  uint32_t driver_state = 0;
};

// The parts of the socket and file API that complete at once. Each returns >= 0 on success or a
// negated errno, like an operation's result. The base implementation makes the real system
// calls (sockets are non-blocking and close-on-exec); internal::system_calls()
// (internal/io_operation.h) gives the current loop's driver, or this real implementation outside
// any loop.
class SystemCalls {
 public:
  virtual ~SystemCalls() = default;
  // type: SOCK_STREAM or SOCK_DGRAM.
  virtual int socket(int family, int type);
  // Two connected Unix stream sockets.
  virtual int socket_pair(int fds[2]);
  virtual int bind(int fd, const sockaddr* address, socklen_t length);
  virtual int listen(int fd, int backlog);
  // setsockopt with an int value.
  virtual int set_option(int fd, int level, int option, int value);
  // getpeername (peer) or getsockname.
  virtual int socket_name(int fd, bool peer, sockaddr* address, socklen_t* length);
  virtual int shutdown(int fd, int how);
  virtual int close(int fd);
  // The size of an open file (fstat).
  virtual int64_t file_size(int fd);
  // Prepares a descriptor the program opened itself (a pipe, a tty) for the stream API: makes it
  // non-blocking.
  virtual int adopt(int fd);
  // Calendar time (CLOCK_REALTIME), for code that stamps records or compares clocks across
  // machines. Driver::now() is the loop's clock and is what timeouts use; the simulator gives
  // each simulated host a wall clock of its own, with offset and drift.
  virtual absl::Time wall_time();
};

class Driver : public SystemCalls {
 public:
  // A short name for logs and errors: "io_uring", "epoll", "virtual", "sim".
  virtual const char* name() const = 0;
  virtual absl::Time now() = 0;
  virtual void submit(Operation& op) = 0;
  virtual void cancel(Operation& op) = 0;
  virtual void poll(absl::Time deadline) = 0;
  virtual size_t pending() const = 0;
  virtual void cancel_all() = 0;

  // Clock control, for tests (Trio's MockClock). jump(d) moves a virtual clock forward by d; a
  // real clock cannot be moved, and the default throws UsageError naming the driver.
  virtual void jump(absl::Duration d);
  // False for a clock that moves only through jump() (the virtual clock with autojump off):
  // tasks that wait only for timers then wait forever, and the loop reports a deadlock.
  virtual bool clock_moves_by_itself() const { return true; }

  // Where signal receivers (signals.h) on this loop get their signals: nullptr (the default) for
  // the real process's; the simulator gives each host its own. A driver without signals throws
  // UsageError.
  virtual internal::SignalHub* signal_hub() { return nullptr; }

  // Whether other threads may work for this loop and call into it (threads.h): false on the
  // virtual clock and in the simulator, where to_thread runs its callable inline.
  virtual bool threads_allowed() const { return true; }

  // A doorbell: how another loop's driver wakes this loop without a system call of its own
  // (io_uring's MSG_RING: a completion posted into this ring; the inbox's eventfd stays for every
  // other thread). open_doorbell returns a descriptor others ring, owned by the caller (it keeps
  // the ring alive while anyone may ring it), or -1 when this driver has none (every driver but
  // io_uring, or a kernel without MSG_RING); `rang` is called on this loop's thread, in poll(),
  // after a ring. ring_doorbell(doorbell, fallback) queues a ring with this driver's next
  // submission and returns true, or false when it cannot (the caller then wakes the loop its own
  // way); if the ring fails in the kernel, the driver writes the eventfd `fallback` instead, so
  // a wake-up is never lost.
  virtual int open_doorbell(std::function<void()> rang) {
    (void)rang;
    return -1;
  }
  virtual bool ring_doorbell(int doorbell, int fallback) {
    (void)doorbell;
    (void)fallback;
    return false;
  }
};

// The simulator's tripwire (a public hook for simulators; programs never need it). While a
// simulation runs on a thread it installs a guard there, and every place where giambio would
// reach the real world (setting up a real driver, starting a thread) calls touch_real_world
// first: the guard throws, naming the call and the seed.
class RealWorldGuard {
 public:
  virtual void touched(const char* call) = 0;

 protected:
  ~RealWorldGuard() = default;
};
// Installs `guard` (nullptr: none) on this thread and returns the one it replaces.
RealWorldGuard* set_real_world_guard(RealWorldGuard* guard);
void touch_real_world(const char* call);

}  // namespace giambio

#endif  // GIAMBIO_DRIVER_H_
