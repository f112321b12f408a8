// giambio/time.h: the loop's clock, sleeping, and checkpoint().
//
//   absl::Time start = giambio::now();
//   co_await giambio::sleep(absl::Milliseconds(10));
//   co_await giambio::checkpoint();   // let other tasks run; throws Cancelled if cancelled
//
// Time comes from the loop's driver: monotonic real time on the epoll driver, virtual time on
// the virtual-clock driver and in the simulator. Never mix it with absl::Now().
//
// Tests also get quiescence (wait_all_tasks_blocked) and a hand on the virtual clock
// (jump_clock), below.
//
// Every sleep is a cancel point: inside a cancelled scope it throws giambio::Cancelled at once
// (before sleeping) or as soon as the cancellation arrives (while sleeping). checkpoint() always
// yields to the other ready tasks first, then checks for cancellation; call it in long loops
// that do not otherwise await, so they neither hog the loop nor ignore cancellation.
#ifndef GIAMBIO_TIME_H_
#define GIAMBIO_TIME_H_

#include <coroutine>

#include "absl/time/time.h"
#include "giambio/internal/task_record.h"
#include "giambio/internal/timer_heap.h"

namespace giambio {

class Loop;

namespace internal {

class SleepAwaiter final : public Blocker, public Timer {
 public:
  explicit SleepAwaiter(absl::Time deadline);
  ~SleepAwaiter() override;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> caller);
  void await_resume();

  bool abort() noexcept override;
  const char* waiting_on() const noexcept override { return "sleep"; }
  void fire() override;

 private:
  Loop& loop_;
  TaskRecord* task_ = nullptr;
  absl::Time deadline_;
  absl::Duration duration_;
};

class CheckpointAwaiter {
 public:
  // check_cancel false: a schedule point only (Trio's cancel_shielded_checkpoint).
  explicit CheckpointAwaiter(bool check_cancel = true) : check_cancel_(check_cancel) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> caller);
  void await_resume();

 private:
  Loop* loop_ = nullptr;
  TaskRecord* task_ = nullptr;
  bool check_cancel_;
};

// What wait_all_tasks_blocked() returns. The loop wakes it (Loop::run_once).
class IdleAwaiter final : public Blocker {
 public:
  explicit IdleAwaiter(absl::Duration cushion);
  ~IdleAwaiter();
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> caller);
  void await_resume();

  bool abort() noexcept override;
  const char* waiting_on() const noexcept override { return "wait_all_tasks_blocked"; }
  absl::Duration cushion() const { return cushion_; }
  // Called by the loop, which has already let go of this waiter.
  void wake();

 private:
  Loop& loop_;
  TaskRecord* task_ = nullptr;
  absl::Duration cushion_;
  bool registered_ = false;
};

// Lets the other ready tasks run, and never throws Cancelled: a schedule point that is not a
// cancel point (for giambio's own operations that must be one but must not raise).
CheckpointAwaiter schedule_point();

}  // namespace internal

// The loop's current time. Throws UsageError outside a loop.
absl::Time now();

// Calendar time, for stamping records or comparing clocks across machines (never for timeouts:
// it can jump). Real time on the real drivers; in the simulator each host has a wall clock of
// its own, with offset and drift. Throws UsageError outside a loop.
absl::Time wall_time();

// Sleeps for `duration` (>= 0; absl::InfiniteDuration() sleeps forever). A negative duration is
// a UsageError. sleep(absl::ZeroDuration()) yields to the other tasks, like checkpoint().
internal::SleepAwaiter sleep(absl::Duration duration);
// Sleeps until the loop's clock reaches `deadline`; a deadline in the past yields only.
internal::SleepAwaiter sleep_until(absl::Time deadline);
// Sleeps until cancelled.
internal::SleepAwaiter sleep_forever();

// Yields to every other ready task, then throws Cancelled if a cancellation reaches this task.
internal::CheckpointAwaiter checkpoint();

// For tests (Trio's trio.testing.wait_all_tasks_blocked): returns once every other task is
// blocked and no task has become ready for `cushion` (>= 0) of the loop's clock: virtual time on
// the virtual clock and in the simulator, so the result is exact and repeatable. With cushion
// zero it returns before the clock moves at all: it wins over the virtual clock's autojump.
// Several waiters wake one at a time, smallest cushion first, then in the order they came; each
// wakeup is a turn in which tasks run, and the quiet period starts again. A cancel point.
internal::IdleAwaiter wait_all_tasks_blocked(absl::Duration cushion = absl::ZeroDuration());

// Moves the virtual clock forward by `d` (Trio's MockClock.jump); timers that become due fire
// in the loop's next turn. UsageError on a driver whose clock cannot be moved (the real ones,
// the simulator's) and for a negative or infinite `d`.
void jump_clock(absl::Duration d);

}  // namespace giambio

#endif  // GIAMBIO_TIME_H_
