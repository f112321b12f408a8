#include "giambio/semaphore.h"

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"

namespace giambio {

Semaphore::Semaphore(size_t initial_value, size_t max_value)
    : value_(initial_value), max_value_(max_value) {
  if (initial_value > max_value) {
    throw UsageError(absl::StrCat("Semaphore(", initial_value, ", ", max_value,
                                  "): the initial value exceeds the maximum"));
  }
}

ParkingLot::Waiter Semaphore::acquire() {
  return waiters_.park_unless(
      [](void* self, internal::TaskRecord&) {
        return static_cast<Semaphore*>(self)->try_acquire();
      },
      this);
}

bool Semaphore::try_acquire() {
  // While tasks wait, value_ is 0: release() hands permits to them directly.
  if (value_ == 0) return false;
  --value_;
  return true;
}

void Semaphore::release() {
  waiters_.check_thread("Semaphore::release");
  if (!waiters_.empty()) {
    waiters_.unpark();  // the permit goes to the longest waiter
    return;
  }
  if (value_ == max_value_) {
    throw UsageError(
        absl::StrCat("Semaphore::release: the value would exceed its maximum of ", max_value_));
  }
  ++value_;
}

}  // namespace giambio
