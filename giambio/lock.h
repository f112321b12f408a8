// giambio/lock.h: Lock, a fair mutual-exclusion lock for tasks.
//
//   {
//     giambio::LockGuard guard = co_await lock.guard();   // released when `guard` goes away
//     ... critical section, may await ...
//   }
//
// A Lock is owned by the task that acquired it and is not reentrant: acquiring it again from the
// owning task, or releasing it from another task (or when it is free), throws UsageError. It is
// fair: release() hands the lock straight to the task that has waited longest, so a task that
// releases and reacquires in a loop cannot starve the others.
//
// acquire() is a cancel point. A task cancelled while waiting leaves the queue without the lock;
// a task that was handed the lock keeps it even if a cancellation arrives before it runs (it
// then sees the cancellation at its next cancel point, holding the lock, and its guard releases
// it during unwinding).
//
// A task that ends while holding the lock (it acquired without a guard and never released, or
// moved its guard somewhere that outlived it) breaks the lock, as in Trio: every waiting task,
// and every later acquire() or try_acquire(), throws BrokenResourceError naming that task.
#ifndef GIAMBIO_LOCK_H_
#define GIAMBIO_LOCK_H_

#include <coroutine>
#include <cstdint>
#include <string>
#include <utility>

#include "giambio/internal/task_record.h"
#include "giambio/parking_lot.h"

namespace giambio {

class Lock;

// Releases its lock when destroyed. Move-only.
class LockGuard {
 public:
  LockGuard() = default;
  // Adopts `lock`, which the current task holds.
  explicit LockGuard(Lock& lock);
  LockGuard(LockGuard&& other) noexcept
      : lock_(std::exchange(other.lock_, nullptr)), owner_(other.owner_) {}
  LockGuard& operator=(LockGuard&& other) noexcept;
  ~LockGuard() { unlock(); }
  // Releases early.
  void unlock();

 private:
  Lock* lock_ = nullptr;
  uint64_t owner_ = 0;
};

class Lock final : private internal::Holdable {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  ~Lock();

  // What acquire() returns: waits for the lock and takes it.
  class Acquire {
   public:
    Acquire(Lock& lock, bool abortable);
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> caller) { return waiter_.await_suspend(caller); }
    void await_resume();

   private:
    Lock& lock_;
    ParkingLot::Waiter waiter_;
  };

  // Waits for the lock and takes it.
  Acquire acquire() { return Acquire(*this, /*abortable=*/true); }
  // Takes the lock if it is free and nobody waits for it.
  bool try_acquire();
  // Releases the lock; the current task must hold it.
  void release();

  // Waits for the lock and returns a guard that releases it.
  class GuardAwaiter {
   public:
    explicit GuardAwaiter(Lock& lock) : lock_(lock), acquire_(lock.acquire()) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> caller) { return acquire_.await_suspend(caller); }
    LockGuard await_resume() {
      acquire_.await_resume();
      return LockGuard(lock_);
    }

   private:
    Lock& lock_;
    Acquire acquire_;
  };
  GuardAwaiter guard() { return GuardAwaiter(*this); }

  bool locked() const { return holder() != nullptr; }
  // The id of the task holding the lock, or 0.
  uint64_t owner() const { return locked() ? holder()->id() : 0; }
  // A snapshot for debugging and tests (Trio's statistics()).
  struct Statistics {
    bool locked = false;
    uint64_t owner = 0;  // the holder's task id, 0 when free
    size_t tasks_waiting = 0;
  };
  Statistics statistics() const {
    return {.locked = locked(), .owner = owner(), .tasks_waiting = waiters_.size()};
  }
  // True once a holder ended without releasing it (see the top of this file).
  bool broken() const { return !broken_by_.empty(); }

  // For giambio's own primitives: waits without a cancel point (to reacquire during cleanup),
  // and releases on behalf of the owner recorded in a guard.
  Acquire acquire_uncancellable() { return Acquire(*this, /*abortable=*/false); }
  void release_from(uint64_t owner);

 private:
  static bool try_take(void* self, internal::TaskRecord& task);
  void check_not_broken(const char* operation) const;
  void hand_over();
  void holder_ended(const internal::TaskRecord& holder) noexcept override;

  Loop* loop_ = nullptr;   // the loop of the last holder: hands the lock over
  std::string broken_by_;  // "task 3 'writer'" once broken
  ParkingLot waiters_{"Lock::acquire"};
};

}  // namespace giambio

#endif  // GIAMBIO_LOCK_H_
