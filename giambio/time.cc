#include "giambio/time.h"

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"
#include "giambio/loop.h"

namespace giambio {
namespace internal {

SleepAwaiter::SleepAwaiter(absl::Time deadline)
    : loop_(Loop::current("giambio::sleep")), deadline_(deadline) {
  duration_ = deadline == absl::InfiniteFuture()
                  ? absl::InfiniteDuration()
                  : std::max(deadline - loop_.now(), absl::ZeroDuration());
}

SleepAwaiter::~SleepAwaiter() { loop_.disarm_timer(*this); }

bool SleepAwaiter::await_suspend(std::coroutine_handle<> caller) {
  task_ = &loop_.current_task("giambio::sleep");
  if (loop_.cancelled_before_wait(*task_)) return false;
  if (deadline_ != absl::InfiniteFuture()) loop_.arm_timer(*this, deadline_);
  loop_.block(*task_, *this, caller);
  loop_.notify([&](Instrument& i) { i.before_sleep(task_->info(), duration_); });
  return true;
}

void SleepAwaiter::await_resume() {
  loop_.notify([&](Instrument& i) { i.after_sleep(task_->info(), duration_); });
  loop_.check_aborted(*task_);
}

bool SleepAwaiter::abort() noexcept {
  loop_.disarm_timer(*this);
  return true;
}

void SleepAwaiter::fire() { loop_.wake(*task_); }

void CheckpointAwaiter::await_suspend(std::coroutine_handle<> caller) {
  loop_ = &Loop::current("giambio::checkpoint");
  task_ = &loop_->current_task("giambio::checkpoint");
  loop_->yield(*task_, caller);
}

void CheckpointAwaiter::await_resume() {
  if (check_cancel_) loop_->check_cancel(*task_);
}

IdleAwaiter::IdleAwaiter(absl::Duration cushion)
    : loop_(Loop::current("giambio::wait_all_tasks_blocked")), cushion_(cushion) {
  if (cushion < absl::ZeroDuration() || cushion == absl::InfiniteDuration()) {
    throw UsageError(absl::StrCat("giambio::wait_all_tasks_blocked(", absl::FormatDuration(cushion),
                                  "): the cushion is a finite duration >= 0"));
  }
}

IdleAwaiter::~IdleAwaiter() {
  if (registered_) loop_.remove_idle_waiter(*this);  // its frame was destroyed with the loop
}

bool IdleAwaiter::await_suspend(std::coroutine_handle<> caller) {
  task_ = &loop_.current_task("giambio::wait_all_tasks_blocked");
  if (loop_.cancelled_before_wait(*task_)) return false;
  loop_.add_idle_waiter(*this);
  registered_ = true;
  loop_.block(*task_, *this, caller);
  return true;
}

void IdleAwaiter::await_resume() { loop_.check_aborted(*task_); }

bool IdleAwaiter::abort() noexcept {
  loop_.remove_idle_waiter(*this);
  registered_ = false;
  return true;
}

void IdleAwaiter::wake() {
  registered_ = false;
  loop_.wake(*task_);
}

CheckpointAwaiter schedule_point() { return CheckpointAwaiter(/*check_cancel=*/false); }

}  // namespace internal

absl::Time now() { return Loop::current("giambio::now").now(); }

absl::Time wall_time() { return Loop::current("giambio::wall_time").driver().wall_time(); }

internal::SleepAwaiter sleep(absl::Duration duration) {
  if (duration < absl::ZeroDuration()) {
    throw UsageError(
        absl::StrCat("giambio::sleep(", absl::FormatDuration(duration), "): negative duration"));
  }
  if (duration == absl::InfiniteDuration()) return sleep_forever();
  return internal::SleepAwaiter(now() + duration);
}

internal::SleepAwaiter sleep_until(absl::Time deadline) { return internal::SleepAwaiter(deadline); }

internal::SleepAwaiter sleep_forever() { return internal::SleepAwaiter(absl::InfiniteFuture()); }

internal::CheckpointAwaiter checkpoint() { return internal::CheckpointAwaiter(); }

internal::IdleAwaiter wait_all_tasks_blocked(absl::Duration cushion) {
  return internal::IdleAwaiter(cushion);
}

void jump_clock(absl::Duration d) { Loop::current("giambio::jump_clock").driver().jump(d); }

}  // namespace giambio
