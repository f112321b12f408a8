// giambio/epoll/epoll_driver.h: the driver built on epoll, for kernels or sandboxes without
// io_uring.
//
// Time is CLOCK_MONOTONIC (an arbitrary epoch, like Trio's current_time(); never compare it with
// the wall clock). poll() waits with epoll_pwait2, so timers are exact to the nanosecond rather
// than rounded to milliseconds. Readiness waits register the fd for the directions that have a
// waiter and drop it when none is left. At most one reader and one writer may wait on one fd at
// a time, as in Trio; a second gets -EBUSY.
#ifndef GIAMBIO_EPOLL_EPOLL_DRIVER_H_
#define GIAMBIO_EPOLL_EPOLL_DRIVER_H_

#include <unordered_map>

#include "giambio/driver.h"

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
  size_t pending() const override { return pending_; }

 private:
  struct Waiters {
    Operation* reader = nullptr;
    Operation* writer = nullptr;
  };
  // Tells the kernel which directions of `fd` have waiters now; forgets fd when none has.
  int update_interest(int fd, Waiters& waiters, bool was_registered);

  int epoll_fd_;
  size_t pending_ = 0;
  std::unordered_map<int, Waiters> waiters_;
};

}  // namespace giambio

#endif  // GIAMBIO_EPOLL_EPOLL_DRIVER_H_
