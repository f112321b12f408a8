// giambio/parking_lot.h: ParkingLot, the queue of waiting tasks every primitive is built on.
//
//   co_await lot.park();   // in one task: wait
//   lot.unpark();          // in another: wake the task that has waited longest
//
// Tasks are woken in the order they parked (FIFO). park() is a cancel point: inside a cancelled
// scope it throws giambio::Cancelled without parking, and a parked task whose scope is
// cancelled leaves the queue at once and throws. A task that was unparked is no longer in the
// queue, so a cancellation arriving after that cannot undo the wakeup: it is seen at the task's
// next cancel point. That is what makes the primitives above cancellation-safe: whatever was
// handed to an unparked task (a lock, an item) is never lost.
//
// Primitives build on two more things:
//   - park_unless(try_now, context): after the cancel check, try_now(context, task) may finish
//     the operation at once (take a free lock, an item from a buffer) and skip parking. Either
//     way the operation is a cancel point, and a cancelled one takes nothing. An operation that
//     finished at once still yields (Trio's rule: every await on the library is a schedule
//     point), without a cancel check after taking: a task that releases a lock and takes it
//     again lets the waiters go first, and what it took is kept. This costs ~10 ns per
//     operation that completes at once (docs/benchmarks.md).
//   - the `context` pointer: a primitive that hands something to the task it wakes (a lock, an
//     item) reaches the parked waiter's context through first() before unparking it.
#ifndef GIAMBIO_PARKING_LOT_H_
#define GIAMBIO_PARKING_LOT_H_

#include <coroutine>
#include <cstddef>
#include <string_view>

#include "giambio/internal/intrusive_list.h"
#include "giambio/internal/task_record.h"

namespace giambio {

class Loop;

class ParkingLot {
 public:
  class Waiter;

  // `name` says what waiting here means, for deadlock reports ("Lock::acquire").
  explicit ParkingLot(const char* name = "ParkingLot") : name_(name) {}
  ParkingLot(const ParkingLot&) = delete;
  ParkingLot& operator=(const ParkingLot&) = delete;

  // Parks the current task until unparked. With `abortable` false the wait ignores
  // cancellation (for cleanup that must complete, such as reacquiring a lock).
  Waiter park(void* context = nullptr, bool abortable = true);

  // Called after the cancel check, before parking: returns true if it completed the operation
  // for `task` without waiting.
  using TryNow = bool (*)(void* context, internal::TaskRecord& task);
  // Like park(), but first gives try_now a chance to finish without parking.
  Waiter park_unless(TryNow try_now, void* context, bool abortable = true);

  // Wakes up to `count` tasks, longest-waiting first; returns how many were woken.
  size_t unpark(size_t count = 1);
  size_t unpark_all();
  // Wakes one specific parked waiter.
  void unpark(Waiter& waiter);
  // Wakes, longest-waiting first, every parked waiter for which choose(waiter) is true (choose
  // may fill in the waiter's context first); returns how many were woken.
  template <typename Choose>
  size_t unpark_where(Choose&& choose);

  // Throws UsageError naming `operation` if tasks wait here and their loop does not run on the
  // calling thread. The primitives call it before they change any state, so a call from a wrong
  // thread leaves them as they were.
  void check_thread(const char* operation) const;

  // The longest-waiting parked waiter, or nullptr.
  Waiter* first() const { return waiters_.front(); }
  bool empty() const { return waiters_.empty(); }
  size_t size() const { return waiters_.size(); }
  // A snapshot for debugging and tests (Trio's statistics()).
  struct Statistics {
    size_t tasks_waiting = 0;
  };
  Statistics statistics() const { return {.tasks_waiting = waiters_.size()}; }

  // The awaiter park() returns. It lives in the parked coroutine's frame.
  class Waiter final : public internal::Blocker {
   public:
    Waiter(ParkingLot& lot, void* context, bool abortable, TryNow try_now = nullptr);
    Waiter(Waiter&&) = delete;
    ~Waiter();

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> caller);
    void await_resume();

    void* context() const { return context_; }
    // The parked task (valid while parked).
    internal::TaskRecord& task() const { return *task_; }
    bool abort() noexcept override;
    const char* waiting_on() const noexcept override { return lot_.name_; }

    internal::ListNode node;

   private:
    friend class ParkingLot;
    ParkingLot& lot_;
    Loop& loop_;
    internal::TaskRecord* task_ = nullptr;
    void* context_;
    TryNow try_now_;
    bool abortable_;
  };

 private:
  const char* name_;
  internal::IntrusiveList<Waiter, &Waiter::node> waiters_;
};

template <typename Choose>
size_t ParkingLot::unpark_where(Choose&& choose) {
  size_t woken = 0;
  waiters_.for_each([&](Waiter& waiter) {
    if (!choose(waiter)) return;
    unpark(waiter);
    ++woken;
  });
  return woken;
}

}  // namespace giambio

#endif  // GIAMBIO_PARKING_LOT_H_
