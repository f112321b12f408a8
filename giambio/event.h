// giambio/event.h: Event, a flag that tasks can wait for.
//
//   giambio::Event ready;
//   ... co_await ready.wait();    // in the waiting tasks
//   ... ready.set();              // in the task that makes them go
//
// An Event starts unset; set() wakes every waiting task (in the order they started waiting) and
// from then on wait() returns at once. It cannot be unset: make a new Event instead (as in
// Trio). wait() is a cancel point even when the event is already set.
#ifndef GIAMBIO_EVENT_H_
#define GIAMBIO_EVENT_H_

#include "giambio/parking_lot.h"

namespace giambio {

class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void set();
  bool is_set() const { return set_; }
  // Waits until the event is set.
  ParkingLot::Waiter wait();
  // A snapshot for debugging and tests (Trio's statistics()).
  struct Statistics {
    size_t tasks_waiting = 0;
  };
  Statistics statistics() const { return {.tasks_waiting = waiters_.size()}; }

 private:
  bool set_ = false;
  ParkingLot waiters_{"Event::wait"};
};

}  // namespace giambio

#endif  // GIAMBIO_EVENT_H_
