#include "giambio/capacity_limiter.h"

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "giambio/errors.h"
#include "giambio/loop.h"

namespace giambio {
namespace {

// "task 3 'worker'" when the borrower is the running task, else the object's address.
std::string describe(CapacityLimiter::Borrower borrower) {
  Loop* loop = Loop::current_or_null();
  const internal::TaskRecord* task = loop == nullptr ? nullptr : loop->running_task();
  if (task != nullptr && borrower == task) {
    return absl::StrCat("task ", task->id(), " '", task->name(), "'");
  }
  return absl::StrCat("borrower 0x", absl::Hex(reinterpret_cast<uintptr_t>(borrower)));
}

}  // namespace

CapacityLimiter::CapacityLimiter(size_t total_tokens) : total_(total_tokens) {
  if (total_tokens == 0) {
    throw UsageError("CapacityLimiter(0): total_tokens must be at least 1 (or kUnbounded)");
  }
}

CapacityLimiter::Acquire::Acquire(CapacityLimiter& limiter, Borrower borrower)
    : slot_{&limiter, borrower},
      waiter_(limiter.waiters_.park_unless(&CapacityLimiter::try_take, &slot_)) {}

CapacityLimiter::Acquire CapacityLimiter::acquire_on_behalf_of(Borrower borrower) {
  if (borrower == nullptr) {
    throw UsageError("CapacityLimiter::acquire_on_behalf_of: the borrower is null");
  }
  return Acquire(*this, borrower);
}

bool CapacityLimiter::try_take(void* slot, internal::TaskRecord& task) {
  auto& s = *static_cast<Acquire::Slot*>(slot);
  if (s.borrower == nullptr) s.borrower = &task;
  return s.limiter->take(s.borrower, "CapacityLimiter::acquire");
}

bool CapacityLimiter::take(Borrower borrower, const char* operation) {
  if (borrowers_.contains(borrower)) {
    throw UsageError(absl::StrCat(operation, ": ", describe(borrower),
                                  " already holds a token of this limiter (one per borrower)"));
  }
  if (borrowers_.size() >= total_) return false;
  // Tokens go straight to waiters as they come free, so a free token with waiters is a bug.
  GIAMBIO_CHECK(waiters_.empty(), "CapacityLimiter: a token is free while ", waiters_.size(),
                " tasks wait for one");
  borrowers_.insert(borrower);
  return true;
}

bool CapacityLimiter::try_acquire() {
  Loop& loop = Loop::current("CapacityLimiter::try_acquire");
  return take(&loop.current_task("CapacityLimiter::try_acquire"), "CapacityLimiter::try_acquire");
}

bool CapacityLimiter::try_acquire_on_behalf_of(Borrower borrower) {
  if (borrower == nullptr) {
    throw UsageError("CapacityLimiter::try_acquire_on_behalf_of: the borrower is null");
  }
  return take(borrower, "CapacityLimiter::try_acquire_on_behalf_of");
}

void CapacityLimiter::release() {
  Loop& loop = Loop::current("CapacityLimiter::release");
  give_back(&loop.current_task("CapacityLimiter::release"), "CapacityLimiter::release");
}

void CapacityLimiter::release_on_behalf_of(Borrower borrower) {
  give_back(borrower, "CapacityLimiter::release_on_behalf_of");
}

void CapacityLimiter::give_back(Borrower borrower, const char* operation) {
  waiters_.check_thread(operation);
  if (!borrowers_.contains(borrower)) {
    throw UsageError(
        absl::StrCat(operation, ": ", describe(borrower), " holds no token of this limiter"));
  }
  borrowers_.erase(borrower);
  hand_over();
}

void CapacityLimiter::set_total_tokens(size_t total) {
  if (total == 0) {
    throw UsageError(
        "CapacityLimiter::set_total_tokens(0): total_tokens must be at least 1 (or kUnbounded)");
  }
  waiters_.check_thread("CapacityLimiter::set_total_tokens");
  total_ = total;
  hand_over();
}

void CapacityLimiter::hand_over() {
  while (borrowers_.size() < total_) {
    ParkingLot::Waiter* next = waiters_.first();
    if (next == nullptr) return;
    auto& slot = *static_cast<Acquire::Slot*>(next->context());
    if (slot.borrower == nullptr) slot.borrower = &next->task();
    borrowers_.insert(slot.borrower);
    waiters_.unpark(*next);
  }
}

CapacityLimiter::Statistics CapacityLimiter::statistics() const {
  return {.borrowed_tokens = borrowers_.size(),
          .total_tokens = total_,
          .borrowers = std::vector<Borrower>(borrowers_.begin(), borrowers_.end()),
          .tasks_waiting = waiters_.size()};
}

}  // namespace giambio
