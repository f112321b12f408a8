// giambio/semaphore.h: Semaphore, a fair counter of permits.
//
//   giambio::Semaphore slots(4);            // at most 4 tasks inside at once
//   co_await slots.acquire();  ...  slots.release();
//
// acquire() takes a permit, waiting while there is none; release() gives one back, handing it
// straight to the task that has waited longest (FIFO, so no waiter starves). With a max_value,
// releasing beyond it throws UsageError (a bounded semaphore catches unbalanced releases).
// Unlike a Lock, a permit has no owner: any task may release.
//
// acquire() is a cancel point; a task cancelled while waiting takes no permit, and one that was
// handed a permit keeps it.
#ifndef GIAMBIO_SEMAPHORE_H_
#define GIAMBIO_SEMAPHORE_H_

#include <cstddef>
#include <limits>

#include "giambio/parking_lot.h"

namespace giambio {

class Semaphore {
 public:
  static constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();

  // Throws UsageError if initial_value > max_value.
  explicit Semaphore(size_t initial_value, size_t max_value = kUnbounded);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  ParkingLot::Waiter acquire();
  bool try_acquire();
  void release();

  size_t value() const { return value_; }
  size_t max_value() const { return max_value_; }
  // A snapshot for debugging and tests (Trio's statistics()).
  struct Statistics {
    size_t value = 0;
    size_t max_value = 0;
    size_t tasks_waiting = 0;
  };
  Statistics statistics() const {
    return {.value = value_, .max_value = max_value_, .tasks_waiting = waiters_.size()};
  }

 private:
  size_t value_;
  size_t max_value_;
  ParkingLot waiters_{"Semaphore::acquire"};
};

}  // namespace giambio

#endif  // GIAMBIO_SEMAPHORE_H_
