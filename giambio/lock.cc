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

Lock::~Lock() { Loop::let_go(*this); }

Lock::Acquire::Acquire(Lock& lock, bool abortable)
    : lock_(lock), waiter_(lock.waiters_.park_unless(&Lock::try_take, &lock, abortable)) {}

void Lock::Acquire::await_resume() {
  waiter_.await_resume();  // a cancellation first
  lock_.check_not_broken("Lock::acquire");
}

void Lock::check_not_broken(const char* operation) const {
  if (broken()) {
    throw BrokenResourceError(absl::StrCat(operation, ": the lock is broken: its holder, ",
                                           broken_by_, ", ended without releasing it"));
  }
}

bool Lock::try_take(void* self, internal::TaskRecord& task) {
  Lock& lock = *static_cast<Lock*>(self);
  lock.check_not_broken("Lock::acquire");
  if (lock.holder() == &task) {
    throw UsageError(absl::StrCat("Lock::acquire: task ", task.id(),
                                  " already holds this lock (locks are not reentrant)"));
  }
  if (task.holding == UINT16_MAX) {
    throw UsageError(
        absl::StrCat("Lock::acquire: task ", task.id(), " already holds ", UINT16_MAX, " locks"));
  }
  if (lock.locked() || !lock.waiters_.empty()) return false;
  lock.loop_ = &Loop::current("Lock::acquire");
  lock.loop_->hold(lock, task);
  return true;
}

bool Lock::try_acquire() {
  Loop& loop = Loop::current("Lock::try_acquire");
  check_not_broken("Lock::try_acquire");
  return try_take(this, loop.current_task("Lock::try_acquire"));
}

void Lock::release() {
  Loop& loop = Loop::current("Lock::release");
  const uint64_t caller = loop.current_task("Lock::release").id();
  if (owner() != caller) {
    throw UsageError(
        !locked()
            ? absl::StrCat("Lock::release: task ", caller, " released a lock that is not held")
            : absl::StrCat("Lock::release: task ", caller, " does not hold this lock (task ",
                           owner(), " does)"));
  }
  hand_over();
}

void Lock::release_from(uint64_t owner) {
  if (this->owner() != owner || owner == 0) return;
  hand_over();
}

void Lock::hand_over() {
  Loop::let_go(*this);
  ParkingLot::Waiter* next = waiters_.first();
  if (next == nullptr) return;
  loop_->hold(*this, next->task());
  waiters_.unpark(*next);
}

void Lock::holder_ended(const internal::TaskRecord& holder) noexcept {
  broken_by_ = absl::StrCat("task ", holder.id(), " '", holder.name(), "'");
  waiters_.unpark_all();
}

}  // namespace giambio
