// giambio/pool.h: task pools (Trio's nurseries), the only way to run tasks concurrently.
//
//   int total = co_await giambio::with_pool([&](giambio::Pool& pool) -> giambio::Task<int> {
//     giambio::TaskHandle<int> a = pool.spawn(fetch("a"));
//     pool.spawn([&]() -> giambio::Task<> { co_await log_progress(out); });
//     co_return co_await a.join();
//   });
//
// Lifetimes, the two rules that C++ coroutines impose:
//   - Spawn a coroutine function's Task (`fetch("a")`, with its arguments taken by value) or a
//     lambda itself (`[&]() -> Task<> {...}`, kept alive by the pool), never a lambda's call
//     (`[&]() -> Task<> {...}()`): that coroutine would run after its lambda is gone.
//   - The body is a coroutine of its own, and its local variables end when it returns, which is
//     *before* the pool waits for the children. Whatever children share by reference must live
//     outside with_pool, in the enclosing coroutine (like Trio, where the block's variables
//     belong to the enclosing function):
//
//       absl::StatusOr<SocketStream> stream;            // shared: declared outside
//       co_await with_pool([&](Pool& pool) -> Task<> {
//         pool.spawn([&]() -> Task<> { stream = co_await SocketStream::connect(address); });
//         ...                                        // locals here die at the body's end
//       });
//
// with_pool(body) opens a pool, runs body(pool) in the current task, and does not return until
// the body and every task spawned into the pool have ended. Tasks spawned into the pool (by the
// body or by anyone holding the pool) run concurrently with the body.
//
// Errors. If the body or any child ends with an exception, the pool cancels its own scope (the
// body and every other child see giambio::Cancelled), waits for everything to end, and then:
//   - exactly one error: rethrows that exception unchanged;
//   - two or more: throws MultiError holding all of them in the order they were raised
//     (the body's error counts like a child's).
// Cancellations are not errors: a Cancelled owned by the pool's own scope is absorbed, and one
// owned by a scope outside the pool is rethrown after the tasks have ended (when no error was
// raised), so that scope catches it.
//
// Pool::start(fn) runs fn(status) as a child and waits until it calls status.started(value);
// it then returns that value while the child goes on running in the pool (Trio's
// nursery.start). Until started() is called the child runs under the caller's cancel scopes
// and its exceptions propagate out of start(); a child that ends without calling started()
// makes start() throw UsageError, and so does calling started() twice. A pending start() keeps
// the pool open: the pool does not close while a task started into it has not yet called
// started() or failed, even once its body and every other child have ended.
//
// A pool is closed once its body and children have all ended; spawning into it then throws
// UsageError. Closing is a schedule point (other tasks run) but not a cancel point: an empty
// pool opened and closed in a cancelled scope does not raise. Pool is a handle: copies of it may
// outlive with_pool. Cancellation: the parent waits for the children without a cancel point; a
// cancellation of a scope around the pool reaches the children directly and they end.
#ifndef GIAMBIO_POOL_H_
#define GIAMBIO_POOL_H_

#include <concepts>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "giambio/cancel_scope.h"
#include "giambio/errors.h"
#include "giambio/loop.h"
#include "giambio/parking_lot.h"
#include "giambio/task.h"
#include "giambio/task_handle.h"

namespace giambio {

template <typename V>
class TaskStatus;

namespace internal {

// Runs fn() while owning fn: a lambda's captures live in this coroutine's frame for as long as
// the task it returned runs.
template <typename F>
auto invoke_owned(F fn) -> Task<typename std::invoke_result_t<F&>::value_type> {
  co_return co_await fn();
}

template <typename V>
struct StartState;
template <typename V, typename F>
Task<> run_start_child(F fn, std::shared_ptr<StartState<V>> state);
}  // namespace internal

namespace internal {

// A pool's state, shared by every Pool handle to it and by its children.
class PoolState {
 public:
  explicit PoolState(Loop& loop) : loop_(loop) {}
  PoolState(const PoolState&) = delete;
  PoolState& operator=(const PoolState&) = delete;

  template <typename T>
  TaskHandle<T> spawn(Task<T> task, std::string name);
  template <typename V, typename F>
  Task<V> start(F fn, std::string name);

  void open();
  // Records the body's outcome, waits for the children, leaves the scope and throws what the
  // pool has to report (see the top of this file).
  Task<> close(std::exception_ptr body_error);
  void child_exited(ChildTaskBase& child);
  // Moves a child started with start() from a temporary pool into this one.
  void adopt(ChildTaskBase& child);
  // A start() into this pool has ended, with its child adopted or not (it failed first).
  void start_ended();

  CancelScope& scope() { return scope_; }
  size_t live_children() const { return live_children_; }
  bool closed() const { return closed_; }

 private:
  // Keeps `error` (raised by task `from`, or by the body when it is null) and cancels the pool.
  void record(std::exception_ptr error, const TaskRecord* from);
  void check_open(const char* operation) const;
  // Wakes close() once nothing keeps the pool open: no child, no start() waiting for started().
  void wake_close_if_done();

  Loop& loop_;
  CancelScope scope_;
  size_t live_children_ = 0;
  size_t pending_starts_ = 0;  // start() calls whose child has not called started() yet
  bool closed_ = false;
  std::vector<std::exception_ptr> errors_;
  std::exception_ptr outer_cancellation_;
  ParkingLot all_done_{"Pool: waiting for its tasks to end"};
};

}  // namespace internal

// A handle to a pool: cheap to copy, so a service can keep one and spawn into it later. Once the
// pool is closed every spawn through any handle throws UsageError.
class Pool {
 public:
  explicit Pool(std::shared_ptr<internal::PoolState> state) : state_(std::move(state)) {}

  // Starts `task` as a child of this pool and returns at once. `name` shows in instruments and
  // deadlock reports.
  template <typename T>
  TaskHandle<T> spawn(Task<T> task, std::string name = "") {
    return state_->spawn(std::move(task), std::move(name));
  }
  // The same for an awaitable that converts to a Task (a stream's read() or write_all(): its
  // stream and buffer must outlive the child).
  template <ConvertsToTask C>
  auto spawn(C body, std::string name = "") {
    return spawn(Task<typename C::result_type>(std::move(body)), std::move(name));
  }
  // Starts fn() as a child. The pool keeps `fn` (a lambda and its captures) alive until the
  // task ends; prefer this to spawn(lambda()), whose coroutine would outlive the lambda.
  template <typename F>
  requires std::invocable<F&>
  auto spawn(F fn, std::string name = "") {
    return spawn(internal::invoke_owned(std::move(fn)), std::move(name));
  }

  // Starts fn(TaskStatus<V>) as a child and returns the value it passes to started().
  template <typename V = void, typename F>
  Task<V> start(F fn, std::string name = "") {
    return state_->start<V>(std::move(fn), std::move(name));
  }

  // Cancels the pool: the body and every child. `reason` joins the Cancelled they see
  // (CancelScope::cancel).
  void cancel(std::string_view reason = {}) { state_->scope().cancel(reason); }
  CancelScope& cancel_scope() { return state_->scope(); }
  size_t live_children() const { return state_->live_children(); }
  bool closed() const { return state_->closed(); }

  internal::PoolState& state() { return *state_; }

 private:
  std::shared_ptr<internal::PoolState> state_;
};

// Opens a pool around `body`, a callable taking Pool& and returning Task<R>; returns R.
template <typename F>
auto with_pool(F body) -> Task<typename std::invoke_result_t<F&, Pool&>::value_type> {
  using R = typename std::invoke_result_t<F&, Pool&>::value_type;
  Pool pool(std::make_shared<internal::PoolState>(Loop::current("giambio::with_pool")));
  pool.state().open();
  std::exception_ptr body_error;
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result{};
  try {
    if constexpr (std::is_void_v<R>) {
      co_await body(pool);
    } else {
      result.emplace(co_await body(pool));
    }
  } catch (...) {
    body_error = std::current_exception();
  }
  co_await pool.state().close(std::move(body_error));
  if constexpr (!std::is_void_v<R>) co_return std::move(*result);
}

namespace internal {

template <typename V>
struct StartState {
  ParkingLot started_lot{"Pool::start: waiting for started()"};
  std::conditional_t<std::is_void_v<V>, bool, std::optional<V>> value{};
  bool started = false;
  PoolState* target = nullptr;
  ChildTaskBase* child = nullptr;
};

// The child of Pool::start. It owns `fn`, so a lambda's captures live as long as the child.
template <typename V, typename F>
Task<> run_start_child(F fn, std::shared_ptr<StartState<V>> state) {
  co_await fn(TaskStatus<V>(state));
  if (!state->started) {
    throw UsageError("Pool::start: the task ended without calling TaskStatus::started()");
  }
}

}  // namespace internal

// Given to a task started with Pool::start; call started() once, when it is ready.
// TaskStatus<V>::ignored() is one nobody waits on (Trio's TASK_STATUS_IGNORED): the same task
// function can then be spawned without start(), and its started() does nothing.
template <typename V>
class TaskStatus {
 public:
  explicit TaskStatus(std::shared_ptr<internal::StartState<V>> state) : state_(std::move(state)) {}
  static TaskStatus ignored() { return TaskStatus(nullptr); }

  template <typename... Args>
  void started(Args&&... value) {
    static_assert(sizeof...(Args) == (std::is_void_v<V> ? 0 : 1),
                  "started() takes the value for TaskStatus<V>, nothing for TaskStatus<void>");
    if (state_ == nullptr) return;  // ignored()
    if (state_->started) throw UsageError("TaskStatus::started: called twice");
    if constexpr (!std::is_void_v<V>) state_->value.emplace(std::forward<Args>(value)...);
    state_->started = true;
    state_->target->adopt(*state_->child);
    state_->started_lot.unpark_all();
  }

 private:
  std::shared_ptr<internal::StartState<V>> state_;
};

namespace internal {

template <typename T>
TaskHandle<T> PoolState::spawn(Task<T> task, std::string name) {
  loop_.check_thread("Pool::spawn");
  check_open("Pool::spawn");
  if (!task.valid()) throw UsageError("Pool::spawn: the task is empty or was already awaited");
  auto* child = new ChildTask<T>(loop_, std::move(name), this, std::move(task));
  TaskHandle<T> handle(child);
  ++live_children_;
  loop_.launch(*child, child->own_scope(), &scope_);
  return handle;
}

template <typename V, typename F>
Task<V> PoolState::start(F fn, std::string name) {
  check_open("Pool::start");
  auto state = std::make_shared<StartState<V>>();
  state->target = this;
  // Until the child calls started() (or fails), this pool stays open for it, as a nursery does
  // in Trio, even when its body and other children have all ended.
  ++pending_starts_;
  std::exception_ptr error;
  try {
    // The child first runs in a temporary pool inside the caller, so that until it is ready its
    // errors and the caller's cancellations behave as if the caller had awaited it inline.
    co_await with_pool([&](Pool& temporary) -> Task<> {
      TaskHandle<void> child =
          temporary.spawn(run_start_child<V>(std::move(fn), state), std::move(name));
      state->child = &child.record();
      while (!state->started) co_await state->started_lot.park();
    });
  } catch (...) {
    error = std::current_exception();
  }
  start_ended();
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<V>) co_return std::move(*state->value);
}

}  // namespace internal
}  // namespace giambio

#endif  // GIAMBIO_POOL_H_
