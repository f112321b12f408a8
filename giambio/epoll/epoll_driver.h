// giambio/epoll/epoll_driver.h: the driver built on epoll, for kernels, containers and sandboxes
// where io_uring is unavailable. Same observable behaviour as the io_uring driver.
//
// Socket and stream operations are carried out the readiness way: the non-blocking syscall is
// tried at once; on EAGAIN (EINPROGRESS for connect) the descriptor is registered for the
// direction the operation needs, and the syscall is tried again when epoll reports it ready.
// Cancellation is immediate: the registration is dropped and the operation completes with
// -ECANCELED, having consumed nothing. File operations and name lookups run on worker threads
// (internal/worker_threads.h).
//
// At most one operation may wait for each direction of a descriptor at a time (one reader: a
// receive, accept or readability wait; one writer: a send, connect or writability wait); a second
// completes with -EBUSY.
//
// Time is CLOCK_MONOTONIC; poll() waits with epoll_pwait2, so timers are exact to the
// nanosecond rather than rounded to milliseconds.
#ifndef GIAMBIO_EPOLL_EPOLL_DRIVER_H_
#define GIAMBIO_EPOLL_EPOLL_DRIVER_H_

#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "giambio/driver.h"
#include "giambio/internal/worker_threads.h"

namespace giambio {

class EpollDriver final : public Driver {
 public:
  EpollDriver();
  ~EpollDriver() override;

  const char* name() const override { return "epoll"; }
  absl::Time now() override;
  void submit(Operation& op) override;
  void cancel(Operation& op) override;
  void poll(absl::Time deadline) override;
  size_t pending() const override { return pending_ + (workers_ ? workers_->outstanding() : 0); }
  void cancel_all() override;

 private:
  struct Waiters {
    Operation* reader = nullptr;
    Operation* writer = nullptr;
  };
  // Registers `op` to be retried when its descriptor is ready; completes it with an error if
  // that is impossible.
  void wait_for_readiness(Operation& op);
  // Tells the kernel which directions of `fd` have waiters now; forgets fd when none has.
  int update_interest(int fd, Waiters& waiters, bool was_registered);
  // Tries the operation's syscall once more after a readiness event.
  void retry(Operation& op, uint32_t events);

  internal::WorkerThreads& workers();
  void deliver_worker_completions();

  int epoll_fd_;
  size_t pending_ = 0;
  std::unordered_map<int, Waiters> waiters_;
  std::unique_ptr<internal::WorkerThreads> workers_;                // created on first use
  std::vector<std::pair<Operation*, int64_t>> worker_completions_;  // scratch
};

}  // namespace giambio

#endif  // GIAMBIO_EPOLL_EPOLL_DRIVER_H_
