#include "giambio/parking_lot.h"

#include "absl/strings/str_cat.h"
#include "giambio/loop.h"

namespace giambio {

ParkingLot::Waiter ParkingLot::park(void* context, bool abortable) {
  return Waiter(*this, context, abortable);
}

ParkingLot::Waiter ParkingLot::park_unless(TryNow try_now, void* context, bool abortable) {
  return Waiter(*this, context, abortable, try_now);
}

ParkingLot::Waiter::Waiter(ParkingLot& lot, void* context, bool abortable, TryNow try_now)
    : lot_(lot),
      loop_(Loop::current("ParkingLot::park")),
      context_(context),
      try_now_(try_now),
      abortable_(abortable) {}

ParkingLot::Waiter::~Waiter() {
  if (node.linked()) node.unlink();  // the parked frame was destroyed with the loop
}

bool ParkingLot::Waiter::await_suspend(std::coroutine_handle<> caller) {
  task_ = &loop_.current_task("ParkingLot::park");
  if (abortable_ && loop_.cancelled_before_wait(*task_)) return false;
  if (try_now_ != nullptr && try_now_(context_, *task_)) {
    // Done without waiting, and still a schedule point (Trio: every await on the library is
    // one): the task goes to the back of the ready queue, so a task that releases a lock and
    // takes it again at once lets the waiters it woke go first. Not a cancel point any more:
    // what try_now took (a lock, an item) is kept.
    loop_.yield(*task_, caller);
    return true;
  }
  lot_.waiters_.push_back(*this);
  loop_.block(*task_, *this, caller);
  return true;
}

void ParkingLot::Waiter::await_resume() { loop_.check_aborted(*task_); }

bool ParkingLot::Waiter::abort() noexcept {
  if (!abortable_) return false;
  node.unlink();
  return true;
}

size_t ParkingLot::unpark(size_t count) {
  size_t woken = 0;
  while (woken < count && !waiters_.empty()) {
    unpark(*waiters_.front());
    ++woken;
  }
  return woken;
}

size_t ParkingLot::unpark_all() {
  size_t woken = 0;
  for (; !waiters_.empty(); ++woken) unpark(*waiters_.front());
  return woken;
}

void ParkingLot::check_thread(const char* operation) const {
  if (const Waiter* waiter = waiters_.front()) waiter->loop_.check_thread(operation);
}

void ParkingLot::unpark(Waiter& waiter) {
  if (!waiter.loop_.runs_here()) {  // before anything changes
    waiter.loop_.check_thread(absl::StrCat("waking a task that waits in ", name_));
  }
  waiter.node.unlink();
  waiter.loop_.wake(*waiter.task_);
}

}  // namespace giambio
