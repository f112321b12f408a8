// giambio/condition.h: Condition, waiting for a state change under a Lock.
//
//   giambio::Lock lock;
//   giambio::Condition changed(lock);
//   auto guard = co_await lock.guard();
//   while (!ready) co_await changed.wait();   // releases the lock while waiting
//
// wait() must be called holding the lock (else UsageError). It releases the lock, waits for
// notify() / notify_all(), and reacquires the lock before returning, also when it is cancelled:
// the Cancelled comes out with the lock held again, so guards stay correct. notify(n) wakes the
// n longest waiters (FIFO) and may be called with or without the lock.
#ifndef GIAMBIO_CONDITION_H_
#define GIAMBIO_CONDITION_H_

#include <cstddef>

#include "giambio/lock.h"
#include "giambio/parking_lot.h"
#include "giambio/task.h"

namespace giambio {

class Condition {
 public:
  explicit Condition(Lock& lock) : lock_(lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  Task<> wait();
  size_t notify(size_t count = 1) {
    waiters_.check_thread("Condition::notify");
    return waiters_.unpark(count);
  }
  size_t notify_all() {
    waiters_.check_thread("Condition::notify_all");
    return waiters_.unpark_all();
  }

  Lock& lock() { return lock_; }
  // A snapshot for debugging and tests (Trio's statistics()): the waiters and the lock's.
  struct Statistics {
    size_t tasks_waiting = 0;
    Lock::Statistics lock;
  };
  Statistics statistics() const {
    return {.tasks_waiting = waiters_.size(), .lock = lock_.statistics()};
  }

 private:
  Lock& lock_;
  ParkingLot waiters_{"Condition::wait"};
};

}  // namespace giambio

#endif  // GIAMBIO_CONDITION_H_
