#include "giambio/lock.h"

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"
#include "giambio/loop.h"

namespace giambio {

LockGuard::LockGuard(Lock& lock) : lock_(&lock), owner_(lock.owner()) {}

LockGuard& LockGuard::operator=(LockGuard&& other) noexcept {
  if (this != &other) {
    unlock();
    lock_ = std::exchange(other.lock_, nullptr);
    owner_ = other.owner_;
  }
  return *this;
}

void LockGuard::unlock() {
  if (Lock* lock = std::exchange(lock_, nullptr)) lock->release_from(owner_);
}

bool Lock::try_take(void* self, internal::TaskRecord& task) {
  Lock& lock = *static_cast<Lock*>(self);
  if (lock.owner_ == task.id()) {
    throw UsageError(absl::StrCat("Lock::acquire: task ", task.id(),
                                  " already holds this lock (locks are not reentrant)"));
  }
  if (lock.owner_ != 0 || !lock.waiters_.empty()) return false;
  lock.owner_ = task.id();
  return true;
}

ParkingLot::Waiter Lock::acquire() { return waiters_.park_unless(&Lock::try_take, this); }

ParkingLot::Waiter Lock::acquire_uncancellable() {
  return waiters_.park_unless(&Lock::try_take, this, /*abortable=*/false);
}

bool Lock::try_acquire() {
  Loop& loop = Loop::current("Lock::try_acquire");
  return try_take(this, loop.current_task("Lock::try_acquire"));
}

void Lock::release() {
  Loop& loop = Loop::current("Lock::release");
  const uint64_t caller = loop.current_task("Lock::release").id();
  if (owner_ != caller) {
    throw UsageError(
        owner_ == 0
            ? absl::StrCat("Lock::release: task ", caller, " released a lock that is not held")
            : absl::StrCat("Lock::release: task ", caller, " does not hold this lock (task ",
                           owner_, " does)"));
  }
  hand_over();
}

void Lock::release_from(uint64_t owner) {
  if (owner_ != owner || owner == 0) return;
  hand_over();
}

void Lock::hand_over() {
  ParkingLot::Waiter* next = waiters_.first();
  if (next == nullptr) {
    owner_ = 0;
    return;
  }
  owner_ = next->task().id();
  waiters_.unpark(*next);
}

}  // namespace giambio
