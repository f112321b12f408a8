#include "giambio/event.h"

namespace giambio {

void Event::set() {
  waiters_.check_thread("Event::set");
  if (set_) return;
  set_ = true;
  waiters_.unpark_all();
}

ParkingLot::Waiter Event::wait() {
  return waiters_.park_unless(
      [](void* self, internal::TaskRecord&) { return static_cast<Event*>(self)->set_; }, this);
}

}  // namespace giambio
