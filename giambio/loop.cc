#include "giambio/loop.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "giambio/errors.h"
#include "giambio/internal/inbox.h"
#include "giambio/time.h"

namespace giambio {
namespace internal {

constinit thread_local Loop* current_loop = nullptr;

}  // namespace internal

using internal::current_loop;

namespace {

// A write to a pipe whose reader is gone must be an EPIPE status, not the end of the process.
// Sockets avoid the signal with MSG_NOSIGNAL; pipes cannot, so SIGPIPE is ignored, as Python
// and Rust do, unless the program chose a disposition of its own.
void ignore_sigpipe_once() {
  static std::once_flag done;
  std::call_once(done, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace

Loop::Loop(std::unique_ptr<Driver> driver, LoopOptions options) : driver_(std::move(driver)) {
  if (driver_ == nullptr) throw UsageError("Loop: the driver is null");
  ignore_sigpipe_once();
  if (options.schedule_seed) schedule_prng_.emplace(*options.schedule_seed);
  for (Instrument* instrument : options.instruments) add_instrument(instrument);
  previous_loop_ = std::exchange(current_loop, this);
}

Loop::~Loop() {
  if (inbox_ != nullptr) inbox_->close();
  // Operations still in flight belong to frames about to be destroyed: the driver withdraws
  // them and waits until it (or the kernel) has let go of every one.
  driver_->cancel_all();
  // Tasks that never finished (a loop stepped by hand and abandoned, or a deadlock): destroy
  // their frames newest first, so children go before the parents whose pools wait for them,
  // then let go of the records.
  std::vector<internal::TaskRecord*> unfinished;
  while (internal::TaskRecord* task = live_tasks_.pop_front()) unfinished.push_back(task);
  for (auto it = unfinished.rbegin(); it != unfinished.rend(); ++it) (*it)->destroy_unfinished();
  while (internal::Holdable* thing = held_.front()) let_go(*thing);  // holders never finished
  for (internal::TaskRecord* task : unfinished) task->abandon();
  if (started_) notify([](Instrument& i) { i.on_run_end(); });
  current_loop = previous_loop_;
}

std::shared_ptr<internal::Inbox> Loop::inbox() {
  if (current_ != nullptr && current_->lane != 0) return lanes_[current_->lane - 1];
  if (inbox_ == nullptr) inbox_ = std::make_shared<internal::Inbox>(*this);
  inbox_->service();
  return inbox_;
}

const std::shared_ptr<internal::Inbox>& Loop::inbox_if_made() const {
  if (current_ != nullptr && current_->lane != 0) return lanes_[current_->lane - 1];
  return inbox_;
}

uint8_t Loop::add_lane(std::shared_ptr<internal::Inbox> inbox) {
  GIAMBIO_CHECK(inbox != nullptr, "Loop::add_lane: a null inbox");
  auto free = std::find(lanes_.begin(), lanes_.end(), nullptr);
  if (free == lanes_.end()) {
    if (lanes_.size() == 255) {
      throw UsageError("Loop::add_lane: all 255 lanes of this loop are taken");
    }
    free = lanes_.insert(lanes_.end(), nullptr);
  }
  *free = std::move(inbox);
  return static_cast<uint8_t>(free - lanes_.begin() + 1);
}

void Loop::remove_lane(uint8_t lane) {
  GIAMBIO_CHECK(lane != 0 && lane <= lanes_.size() && lanes_[lane - 1] != nullptr,
                "Loop::remove_lane: no lane ", static_cast<int>(lane));
  lanes_[lane - 1] = nullptr;
}

void Loop::set_running_lane(uint8_t lane) {
  GIAMBIO_CHECK(lane == 0 || (lane <= lanes_.size() && lanes_[lane - 1] != nullptr),
                "Loop::set_running_lane: no lane ", static_cast<int>(lane));
  current_task("Loop::set_running_lane").lane = lane;
}

void Loop::finish_guests() {
  if (inbox_ != nullptr) inbox_->finish();
}

void Loop::no_loop(const char* operation) {
  throw UsageError(absl::StrCat(operation,
                                ": no giambio loop runs on this thread (call it "
                                "from a task started by giambio::run)"));
}

void Loop::not_in_task(const char* operation) {
  throw UsageError(absl::StrCat(operation, ": not called from inside a giambio task"));
}

std::optional<TaskInfo> Loop::running_task_info() const {
  if (current_ == nullptr) return std::nullopt;
  return current_->info();
}

void Loop::set_running_domain(uint32_t domain) {
  current_task("Loop::set_running_domain").domain = domain;
}

void Loop::add_instrument(Instrument* instrument) {
  if (instrument == nullptr) throw UsageError("Loop::add_instrument: instrument is null");
  if (std::find(instruments_.begin(), instruments_.end(), instrument) != instruments_.end()) {
    return;  // already installed: registered once, as in Trio
  }
  instruments_.push_back(instrument);
}

void Loop::remove_instrument(Instrument* instrument) {
  auto it = std::find(instruments_.begin(), instruments_.end(), instrument);
  if (instrument == nullptr || it == instruments_.end()) {
    throw UsageError(
        "Loop::remove_instrument: the instrument is not installed (never added, already "
        "removed, or removed because one of its hooks threw)");
  }
  *it = nullptr;
  if (dispatch_depth_ == 0) std::erase(instruments_, nullptr);
}

void Loop::log_instrument_failure(const std::exception_ptr& error) {
  std::fprintf(stderr, "giambio: an instrument threw and was removed: %s\n",
               describe(error).c_str());
}

void Loop::launch(internal::TaskRecord& task, CancelScope& own_scope, CancelScope* parent_scope) {
  if (!started_) {
    started_ = true;
    notify([](Instrument& i) { i.on_run_start(); });
  }
  live_tasks_.push_back(task);
  ++live_tasks_count_;
  task.resume_point = task.root();
  internal::CancelTree::place(task, parent_scope == nullptr ? nullptr : &parent_scope->node());
  if (current_ != nullptr) {
    task.domain = current_->domain;
    task.lane = current_->lane;
  }
  own_scope.enter(*this, task);
  notify([&](Instrument& i) { i.on_task_spawned(task.info()); });
  task.state = internal::TaskState::kReady;
  push_ready(task);
}

void Loop::check_cancel(internal::TaskRecord& task) {
  if (const uint64_t owner = cancel_tree_.pending(task); owner != 0) throw_cancelled(task, owner);
}

void Loop::throw_cancelled(internal::TaskRecord& task, uint64_t owner) {
  notify([&](Instrument& i) { i.before_cancel(task.info()); });
  internal::CancelNode* node = internal::CancelTree::find_around(task, owner);
  GIAMBIO_CHECK(node != nullptr, "task ", task.id(), " cancelled by scope ", owner,
                ", which is not around it");
  throw Cancelled(owner, CancelScope::of(*node).shared_reason());
}

void Loop::yield(internal::TaskRecord& task, std::coroutine_handle<> resume_point) {
  GIAMBIO_CHECK(&task == current_, "task ", task.id(), " yields while task ",
                current_ == nullptr ? 0 : current_->id(), " runs");
  task.resume_point = resume_point;
  task.state = internal::TaskState::kReady;
  push_ready(task);
}

void Loop::wrong_thread(std::string_view operation) {
  throw UsageError(absl::StrCat(
      std::string(operation),
      ": called from a thread that does not run this object's loop (giambio objects are not "
      "thread-safe: use them from tasks of the loop that made them, or from another thread through "
      "a LoopToken: run_soon / run, giambio/threads.h)"));
}

void Loop::deliver_cancel(internal::CancelNode& node) {
  cancel_tree_.deliver(node, [this](internal::TaskRecord& task) { wake(task); });
}

void Loop::run_once(absl::Duration max_wait) {
  const bool ran = ready_head_ != nullptr;
  run_batch();
  if (live_tasks_count_ == 0) return;  // nothing left that could wait for anything
  if (awaited_ != nullptr && awaited_->state == internal::TaskState::kDone) return;
  if (ran && !idle_waiters_.empty()) quiet_since_ = now();
  absl::Time deadline = absl::InfinitePast();
  internal::IdleAwaiter* idle = nullptr;  // the quiescence waiter due first, if any
  absl::Time idle_at = absl::InfiniteFuture();
  if (ready_head_ == nullptr) {
    deadline = timers_.next_deadline();
    for (internal::IdleAwaiter* waiter : idle_waiters_) {
      if (idle == nullptr || waiter->cushion() < idle->cushion()) idle = waiter;
    }
    if (idle != nullptr) {
      idle_at = quiet_since_ + idle->cushion();
      deadline = std::min(deadline, idle_at);
    }
    if (max_wait != absl::InfiniteDuration()) deadline = std::min(deadline, now() + max_wait);
    const bool clock_stands_still = deadline == absl::InfiniteFuture() ||
                                    (deadline > now() && !driver_->clock_moves_by_itself());
    if (clock_stands_still && driver_->pending() == 0) report_deadlock();
  }
  if (driver_->pending() > 0 || deadline != absl::InfinitePast()) {
    // What instruments are told the wait may last: the clock is read for them only (a turn
    // with none attached reads it only where a deadline needs it).
    absl::Duration timeout = absl::ZeroDuration();
    if (!instruments_.empty() && deadline != absl::InfinitePast()) {
      timeout = std::max(deadline - now(), absl::ZeroDuration());
    }
    notify([&](Instrument& i) { i.before_io_wait(timeout); });
    driver_->poll(deadline);
    notify([&](Instrument& i) { i.after_io_wait(timeout); });
  }
  fire_timers();
  if (inbox_ != nullptr) inbox_->service();
  // Quiet for the whole cushion: nothing became ready while the loop waited.
  if (idle != nullptr && ready_head_ == nullptr && now() >= idle_at) {
    remove_idle_waiter(*idle);
    idle->wake();
  }
}

void Loop::run_batch() {
  // Detach the batch: tasks made ready while it runs queue up for the next one.
  internal::TaskRecord* task = std::exchange(ready_head_, nullptr);
  ready_tail_ = nullptr;
  if (!schedule_prng_) {
    while (task != nullptr) {
      internal::TaskRecord* next = task->ready_next;  // read first: running may requeue it
      run_task(*task);
      task = next;
    }
    return;
  }
  for (; task != nullptr; task = task->ready_next) shuffled_.push_back(task);
  for (size_t i = shuffled_.size(); i > 1; --i) {
    std::swap(shuffled_[i - 1], shuffled_[schedule_prng_->uniform(i)]);
  }
  for (internal::TaskRecord* ready : shuffled_) run_task(*ready);
  shuffled_.clear();
}

void Loop::run_task(internal::TaskRecord& task) {
  // Only yield (from kRunning) and wake (from kBlocked) queue a task, so a task in any other
  // state here was queued twice or queued while it ran.
  GIAMBIO_CHECK(task.state == internal::TaskState::kReady, "task ", task.id(),
                " ran from the ready queue in state ", static_cast<int>(task.state));
  current_ = &task;
  task.state = internal::TaskState::kRunning;
  notify([&](Instrument& i) { i.before_task_step(task.info()); });
  // The trampoline: coroutines of this task that await each other name the next one to run
  // here instead of calling it, so the stack stays flat however deep the chain.
  std::coroutine_handle<> next = task.resume_point;
  internal::trampoline_slot = &next;
  bool root_may_be_done = false;  // a coroutine with no continuation finished: the root
  while (next) {
    if (next == internal::root_finished()) {
      root_may_be_done = true;
      break;
    }
    std::exchange(next, nullptr).resume();
  }
  internal::trampoline_slot = nullptr;
  notify([&](Instrument& i) { i.after_task_step(task.info()); });
  current_ = nullptr;
  // The root's frame is read only then (a step that ends in a wait does not touch it).
  if (root_may_be_done && task.root().done()) finish_task(task);
}

void Loop::finish_task(internal::TaskRecord& task) {
  GIAMBIO_CHECK(live_tasks_count_ > 0, "task ", task.id(), " finished with no live task counted");
  task.state = internal::TaskState::kDone;
  live_tasks_.remove(task);
  --live_tasks_count_;
  if (task.holding != 0) break_held_by(task);
  notify([&](Instrument& i) { i.on_task_exited(task.info()); });
  task.on_exit();  // may free the record
}

void Loop::hold(internal::Holdable& thing, internal::TaskRecord& task) {
  GIAMBIO_CHECK(thing.holder() == nullptr, "task ", task.id(), " took something task ",
                thing.holder() ? thing.holder()->id() : 0, " still holds");
  if (task.holding == UINT16_MAX) {
    throw UsageError(absl::StrCat("Lock::acquire: task ", task.id(), " '", task.name(),
                                  "' already holds ", UINT16_MAX, " locks"));
  }
  ++task.holding;
  thing.set_holder(&task);
  held_.push_back(thing);
}

void Loop::let_go(internal::Holdable& thing) {
  internal::TaskRecord* holder = thing.holder();
  if (holder == nullptr) return;
  GIAMBIO_CHECK(holder->holding > 0, "task ", holder->id(), " let go of more than it held");
  --holder->holding;
  thing.set_holder(nullptr);
  thing.held_node.unlink();
}

void Loop::break_held_by(internal::TaskRecord& task) {
  std::vector<internal::Holdable*> broken;
  held_.for_each([&](internal::Holdable& thing) {
    if (thing.holder() == &task) broken.push_back(&thing);
  });
  GIAMBIO_CHECK(broken.size() == task.holding, "task ", task.id(), " counted ", task.holding,
                " held things, the loop found ", broken.size());
  for (internal::Holdable* thing : broken) {
    let_go(*thing);
    thing->holder_ended(task);
  }
}

Loop::Statistics Loop::statistics() {
  Statistics s;
  s.tasks_living = live_tasks_count_;
  for (internal::TaskRecord* task = ready_head_; task != nullptr; task = task->ready_next) {
    ++s.tasks_runnable;
  }
  const absl::Time next = timers_.next_deadline();
  if (next != absl::InfiniteFuture()) {
    s.time_to_next_deadline = std::max(next - now(), absl::ZeroDuration());
  }
  s.io_operations_pending = driver_->pending();
  return s;
}

void Loop::fire_timers() {
  if (timers_.empty()) return;
  const absl::Time time = now();
  while (internal::Timer* timer = timers_.pop_expired(time)) timer->fire();
}

void Loop::report_deadlock() {
  std::string message =
      absl::StrCat("deadlock: every task waits and nothing can wake one (", driver_->name(),
                   " driver, time ", absl::FormatDuration(now() - absl::UnixEpoch()),
                   driver_->clock_moves_by_itself()
                       ? ""
                       : "; its clock moves only through giambio::jump_clock, autojump is off",
                   "):");
  live_tasks_.for_each([&](internal::TaskRecord& task) {
    absl::StrAppend(&message, "\n  task ", task.id(), " '", task.name(), "' waits on ",
                    task.blocker != nullptr ? task.blocker->waiting_on() : "nothing");
  });
  throw DeadlockError(message);
}

}  // namespace giambio
