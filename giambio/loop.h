// giambio/loop.h: the event loop, and run(), the way into it.
//
//   int main() { return giambio::run(serve()); }
//
// run(main) creates a Loop, runs `main` as the first task until it ends, and returns its value
// (or rethrows its exception). Every other task lives in a pool opened by main or its children,
// so when main ends, everything has ended.
//
// One turn of the loop, in this order:
//   1. run every task that is ready, as one batch (tasks made ready meanwhile wait for the next
//      batch, so a task that only yields cannot starve the others, the timers or I/O);
//   2. ask the driver for I/O completions, without waiting if tasks are ready, otherwise until
//      the next timer;
//   3. fire every timer that is due.
// Within a batch tasks run in the order they became ready (FIFO). With
// LoopOptions::schedule_seed set, each batch is shuffled by the project's seeded generator
// instead: the same seed gives the same order, and the simulator sweeps seeds to explore
// interleavings.
//
// Starting a loop makes the process ignore SIGPIPE if its action is still the default (as Python
// and Rust do), so writing to a closed pipe is an EPIPE status instead of the end of the program.
//
// A Loop belongs to the thread that runs it; everything in giambio must be called from there.
// To embed giambio in another program's loop, create a Loop on a driver (driver_choice.h),
// start() the main task, and call run_once() from the host loop until the handle is done.
#ifndef GIAMBIO_LOOP_H_
#define GIAMBIO_LOOP_H_

#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "giambio/cancel_scope.h"
#include "giambio/check.h"
#include "giambio/driver.h"
#include "giambio/instrument.h"
#include "giambio/internal/cancel_tree.h"
#include "giambio/internal/intrusive_list.h"
#include "giambio/internal/task_record.h"
#include "giambio/internal/timer_heap.h"
#include "giambio/prng.h"
#include "giambio/task.h"

namespace giambio {

template <typename T>
class TaskHandle;
class Loop;
namespace internal {
class IdleAwaiter;
class Inbox;
// The loop running on this thread, or nullptr (Loop::current). constinit: task.h says why.
extern constinit thread_local Loop* current_loop;
}  // namespace internal

struct LoopOptions {
  // Shuffle each batch of ready tasks with this seed (see the loop's turn above).
  std::optional<uint64_t> schedule_seed = std::nullopt;
  // Instruments to add before the main task starts; not owned, must outlive the loop.
  std::vector<Instrument*> instruments = {};
};

class Loop {
 public:
  // The loop runs on `driver` (driver_choice.h picks one; the simulator brings its own).
  explicit Loop(std::unique_ptr<Driver> driver, LoopOptions options = {});
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // The loop running on this thread. Throws UsageError naming `operation` when there is none
  // (a giambio call outside giambio::run).
  static Loop& current(const char* operation) {
    Loop* const loop = internal::current_loop;
    if (loop == nullptr) [[unlikely]] {
      no_loop(operation);
    }
    return *loop;
  }
  static Loop* current_or_null() { return internal::current_loop; }

  // Starts `main` as a task; it runs during the following run_once() calls.
  template <typename T>
  TaskHandle<T> start(Task<T> main, std::string name = "main");

  // One turn of the loop (see the top of this file), waiting for I/O or timers for at most
  // `max_wait`. Throws DeadlockError if every task waits and nothing can wake any of them.
  void run_once(absl::Duration max_wait = absl::InfiniteDuration());
  // Runs turns until `handle` is done (a turn returns as soon as it is).
  template <typename T>
  void run_until_done(const TaskHandle<T>& handle);

  absl::Time now() { return driver_->now(); }
  Driver& driver() { return *driver_; }
  size_t live_tasks() const { return live_tasks_count_; }

  // The way into this loop from other threads (threads.h), made on first use; each call also
  // arms or withdraws its wait. inbox_if_made(): the same, or null, without making one. For a
  // task in a lane (below), both give that lane's inbox instead.
  std::shared_ptr<internal::Inbox> inbox();
  const std::shared_ptr<internal::Inbox>& inbox_if_made() const;

  // Lanes: several loops' worth of tasks interleaved on this one (threads.h's
  // run_loops_interleaved, for drivers that run no threads). A lane is a number 1..255 naming its
  // inbox; a task inherits its spawner's lane, set_running_lane moves the running task into one
  // (UsageError outside a task). add_lane gives the smallest free number (UsageError when all
  // 255 are taken), remove_lane frees it.
  uint8_t add_lane(std::shared_ptr<internal::Inbox> inbox);
  void remove_lane(uint8_t lane);
  void set_running_lane(uint8_t lane);
  // After the main task: calls from other threads are refused from now on, and the tasks they
  // started are cancelled and run to their end (run() calls it).
  void finish_guests();

  // A snapshot for monitoring and tests (Trio's current_statistics()).
  struct Statistics {
    size_t tasks_living = 0;
    size_t tasks_runnable = 0;
    // Until the next timer fires (zero if it is due; absl::InfiniteDuration() without one).
    absl::Duration time_to_next_deadline = absl::InfiniteDuration();
    size_t io_operations_pending = 0;  // submitted to the driver, not completed
  };
  Statistics statistics();

  // The task running now (id, name, domain), or nothing between tasks.
  std::optional<TaskInfo> running_task_info() const;
  // A task's domain says which part of a simulated world it belongs to (the simulator's host id;
  // 0 outside a simulation). Tasks inherit their spawner's domain; the scheduler does nothing
  // else with it, and instruments see it in TaskInfo. The simulator moves the running task into
  // a host with set_running_domain (UsageError outside a task).
  void set_running_domain(uint32_t domain);

  // Adds an instrument (not owned; it must outlive its stay). Adding one that is installed
  // already does nothing: each is called once per event. Removing one that is not installed
  // is a UsageError (Trio raises KeyError).
  void add_instrument(Instrument* instrument);
  void remove_instrument(Instrument* instrument);

  // ---- For giambio's own primitives; not part of the public API. ----

  // runs_here: this loop runs on the calling thread (and is the innermost one there).
  // check_thread throws UsageError naming `operation` unless it does. Every task wake-up passes
  // here, so giambio objects used from another thread fail loudly instead of racing with the loop.
  bool runs_here() const { return internal::current_loop == this; }
  void check_thread(std::string_view operation) const {
    if (!runs_here()) [[unlikely]] {
      wrong_thread(operation);
    }
  }

  // The task whose code is running now. Throws UsageError naming `operation` outside a task.
  internal::TaskRecord& current_task(const char* operation) {
    if (current_ == nullptr) [[unlikely]] {
      not_in_task(operation);
    }
    return *current_;
  }
  // The same, or nullptr when no task runs (the driver delivering completions, teardown).
  internal::TaskRecord* running_task() const { return current_; }
  // The UsageErrors of current(), check_thread() and current_task(), thrown out of line (an
  // inline check elsewhere calls them too, naming its operation only when it fails).
  [[noreturn]] static void no_loop(const char* operation);
  [[noreturn]] static void wrong_thread(std::string_view operation);
  [[noreturn]] static void not_in_task(const char* operation);
  uint64_t next_task_id() { return ++last_task_id_; }
  // Registers a new task, entering its own scope inside `parent_scope` (its pool's), and makes
  // it ready.
  void launch(internal::TaskRecord& task, CancelScope& own_scope, CancelScope* parent_scope);

  // The tree of entered cancel scopes (internal/cancel_tree.h): it decides what a cancellation
  // reaches; the loop wakes what it reaches.
  internal::CancelTree& cancel_tree() { return cancel_tree_; }
  // Wakes, with Cancelled, every blocked task inside `node` that a cancellation now reaches.
  void deliver_cancel(internal::CancelNode& node);

  // Cancel points. Throws Cancelled if a cancellation reaches `task`.
  void check_cancel(internal::TaskRecord& task);
  // The cancel point at the start of a wait: if a cancellation reaches `task`, records it and
  // returns true, and the awaiter must not suspend (its check_aborted then throws it).
  bool cancelled_before_wait(internal::TaskRecord& task) {
    task.cancel_owner = cancel_tree_.pending(task);
    return task.cancel_owner != 0;
  }
  // After a blocked task resumes: throws Cancelled if its wait was withdrawn by a cancellation.
  void check_aborted(internal::TaskRecord& task) {
    if (task.cancel_owner != 0) [[unlikely]] {
      throw_cancelled(task, std::exchange(task.cancel_owner, 0));
    }
  }

  // Suspension. yield: `task` goes to the back of the ready queue. block: `task` waits until
  // wake() or, through `blocker`, a cancellation. Both record where to resume.
  void yield(internal::TaskRecord& task, std::coroutine_handle<> resume_point);
  void block(internal::TaskRecord& task, internal::Blocker& blocker,
             std::coroutine_handle<> resume_point) {
    task.resume_point = resume_point;
    task.blocker = &blocker;
    task.state = internal::TaskState::kBlocked;
  }
  void wake(internal::TaskRecord& task) {
    GIAMBIO_CHECK(task.state == internal::TaskState::kBlocked, "Loop::wake: task ", task.id(), " '",
                  task.name(), "' is not blocked (state ", static_cast<int>(task.state), ")");
    task.blocker = nullptr;
    task.state = internal::TaskState::kReady;
    push_ready(task);
  }

  // Ownership that outlives a wait (a Lock): hold() records that `task` holds `thing`, let_go()
  // that nobody does. A task that ends while holding something has it broken (holder_ended) by
  // the loop before the task's exit is reported.
  void hold(internal::Holdable& thing, internal::TaskRecord& task);
  static void let_go(internal::Holdable& thing);

  // Quiescence (wait_all_tasks_blocked, time.h): the loop wakes the first waiter (smallest
  // cushion, then first come) once no task has been ready for its cushion of the loop's clock.
  void add_idle_waiter(internal::IdleAwaiter& waiter) { idle_waiters_.push_back(&waiter); }
  void remove_idle_waiter(internal::IdleAwaiter& waiter) { std::erase(idle_waiters_, &waiter); }

  void arm_timer(internal::Timer& timer, absl::Time deadline) { timers_.arm(timer, deadline); }
  void disarm_timer(internal::Timer& timer) {
    if (timer.armed()) timers_.disarm(timer);
  }

  template <typename Fn>
  void notify(Fn&& fn) {
    if (!instruments_.empty()) dispatch(std::forward<Fn>(fn));
  }

 private:
  void run_batch();
  void run_task(internal::TaskRecord& task);
  void finish_task(internal::TaskRecord& task);
  // Throws the Cancelled owned by scope `owner` around `task`, with that scope's reason.
  [[noreturn]] void throw_cancelled(internal::TaskRecord& task, uint64_t owner);
  void break_held_by(internal::TaskRecord& task);
  void fire_timers();
  [[noreturn]] void report_deadlock();
  template <typename Fn>
  void dispatch(Fn&& fn);
  static void log_instrument_failure(const std::exception_ptr& error);

  std::unique_ptr<Driver> driver_;
  std::optional<Prng> schedule_prng_;
  // The ready queue: an intrusive FIFO through TaskRecord::ready_next, so making a task ready
  // never allocates. `shuffled_` is scratch space for seeded batches only.
  void push_ready(internal::TaskRecord& task) {
    check_thread("waking a task");
    task.ready_next = nullptr;
    if (ready_tail_ == nullptr) {
      ready_head_ = &task;
    } else {
      ready_tail_->ready_next = &task;
    }
    ready_tail_ = &task;
    notify([&](Instrument& i) { i.on_task_scheduled(task.info()); });
  }
  internal::TaskRecord* ready_head_ = nullptr;
  internal::TaskRecord* ready_tail_ = nullptr;
  std::vector<internal::TaskRecord*> shuffled_;
  internal::TimerHeap timers_;
  std::vector<internal::IdleAwaiter*> idle_waiters_;
  absl::Time quiet_since_;  // when a task last ran; kept only while idle_waiters_ is not empty
  internal::IntrusiveList<internal::TaskRecord, &internal::TaskRecord::loop_node> live_tasks_;
  size_t live_tasks_count_ = 0;
  internal::TaskRecord* current_ = nullptr;
  uint64_t last_task_id_ = 0;
  internal::CancelTree cancel_tree_;
  internal::IntrusiveList<internal::Holdable, &internal::Holdable::held_node> held_;
  std::vector<Instrument*> instruments_;
  int dispatch_depth_ = 0;
  bool started_ = false;
  Loop* previous_loop_ = nullptr;
  std::shared_ptr<internal::Inbox> inbox_;
  std::vector<std::shared_ptr<internal::Inbox>> lanes_;  // lane n at n - 1; null: free
  // The task run_until_done waits for: a turn ends as soon as it is done, rather than waiting
  // for other top-level tasks (guests) in the driver.
  internal::TaskRecord* awaited_ = nullptr;
};

template <typename Fn>
void Loop::dispatch(Fn&& fn) {
  ++dispatch_depth_;
  const size_t count = instruments_.size();
  for (size_t i = 0; i < count; ++i) {
    Instrument* instrument = instruments_[i];
    if (instrument == nullptr) continue;
    try {
      fn(*instrument);
    } catch (...) {
      instruments_[i] = nullptr;
      log_instrument_failure(std::current_exception());
    }
  }
  if (--dispatch_depth_ == 0) std::erase(instruments_, nullptr);
}

}  // namespace giambio

// Loop::start and Loop::run_until_done are defined with TaskHandle.
#include "giambio/task_handle.h"  // IWYU pragma: export

#endif  // GIAMBIO_LOOP_H_
