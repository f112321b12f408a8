// giambio/task_handle.h: TaskHandle<T>, what Pool::spawn and Loop::start return.
//
//   giambio::TaskHandle<int> h = pool.spawn(compute(), "compute");
//   int v = co_await h.join();   // waits for the task; its value, or its exception rethrown
//   h.cancel();                  // cancels this one task (its own cancel scope)
//
// A handle is a cheap, copyable reference to a spawned task; the task runs whether or not any
// handle to it is kept. Ending a task's life is its pool's business: a task that fails reports
// its error to the pool (which cancels its siblings and rethrows it, see pool.h) even if it is
// also joined. join() is a cancel point; cancelling the joiner does not affect the task.
//
// A task cancelled through its handle ends quietly: the pool sees no error, cancelled() is true,
// and join() / result() throw TaskCancelledError.
#ifndef GIAMBIO_TASK_HANDLE_H_
#define GIAMBIO_TASK_HANDLE_H_

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "giambio/cancel_scope.h"
#include "giambio/internal/task_record.h"
#include "giambio/loop.h"
#include "giambio/parking_lot.h"
#include "giambio/task.h"

namespace giambio {

namespace internal {

class PoolState;

// The parts of a spawned task that do not depend on its value type.
class ChildTaskBase : public TaskRecord {
 public:
  ChildTaskBase(Loop& loop, std::string name, PoolState* pool)
      : TaskRecord(loop.next_task_id(), std::move(name)), pool_(pool) {}
  ~ChildTaskBase() override = default;

  void add_ref() { ++refs_; }
  void release() {
    if (--refs_ == 0) delete this;
  }

  bool done() const { return done_; }
  bool cancelled() const { return cancelled_; }
  const std::exception_ptr& error() const { return error_; }
  // Throws the task's exception, or TaskCancelledError; UsageError if it has not ended.
  void rethrow_if_failed(const char* operation) const;

  PoolState* pool() const { return pool_; }
  void set_pool(PoolState* pool) { pool_ = pool; }
  CancelScope& own_scope() { return own_scope_; }
  // Tasks waiting in join(); allocated on the first join, since most tasks are never joined.
  ParkingLot& joiners() {
    if (!joiners_) joiners_ = std::make_unique<ParkingLot>("TaskHandle::join");
    return *joiners_;
  }
  void abandon() override;

 protected:
  // Called by on_exit() once the outcome is stored: leaves the scopes, tells the pool, wakes
  // the joiners, drops the loop's reference.
  void finish(std::exception_ptr error);

 private:
  // The small fields first: they fit in TaskRecord's tail padding. (Each spawned task costs
  // one allocation of this record; runtime_benchmark's BM_BytesPerSleepingTask watches it.)
  int refs_ = 1;  // the loop's, until the task ends
  bool done_ = false;
  bool cancelled_ = false;
  PoolState* pool_;
  CancelScope own_scope_;
  std::unique_ptr<ParkingLot> joiners_;
  std::exception_ptr error_;
};

template <typename T>
class ChildTask final : public ChildTaskBase {
 public:
  ChildTask(Loop& loop, std::string name, PoolState* pool, Task<T> task)
      : ChildTaskBase(loop, std::move(name), pool), handle_(task.release()) {}
  ~ChildTask() override {
    if (handle_) handle_.destroy();
  }

  std::coroutine_handle<> root() const override { return handle_; }
  void on_exit() override {
    Outcome<T>& outcome = handle_.promise().outcome();
    std::exception_ptr error;
    if (outcome.has_exception()) {
      error = outcome.exception();
    } else if constexpr (!std::is_void_v<T>) {
      value_.emplace(outcome.take());
    }
    handle_.destroy();
    handle_ = {};
    finish(std::move(error));
  }
  void destroy_unfinished() override {
    handle_.destroy();
    handle_ = {};
  }

  struct NoValue {};
  [[no_unique_address]] std::conditional_t<std::is_void_v<T>, NoValue, std::optional<T>> value_{};

 private:
  std::coroutine_handle<TaskPromise<T>> handle_;
};

}  // namespace internal

template <typename T>
class TaskHandle {
 public:
  TaskHandle() = default;
  explicit TaskHandle(internal::ChildTask<T>* task) : task_(task) { task_->add_ref(); }
  TaskHandle(const TaskHandle& other) : task_(other.task_) {
    if (task_) task_->add_ref();
  }
  TaskHandle(TaskHandle&& other) noexcept : task_(std::exchange(other.task_, nullptr)) {}
  TaskHandle& operator=(TaskHandle other) noexcept {
    std::swap(task_, other.task_);
    return *this;
  }
  ~TaskHandle() {
    if (task_) task_->release();
  }

  bool valid() const { return task_ != nullptr; }
  uint64_t id() const { return checked("TaskHandle::id").id(); }
  const std::string& name() const { return checked("TaskHandle::name").name(); }
  bool done() const { return checked("TaskHandle::done").done(); }
  // True if the task ended because it was cancelled through its handle.
  bool cancelled() const { return checked("TaskHandle::cancelled").cancelled(); }
  // The exception the task ended with, or nullptr.
  std::exception_ptr exception() const { return checked("TaskHandle::exception").error(); }

  // For the runtime: the task's record.
  internal::ChildTask<T>& record() const { return checked("TaskHandle::record"); }

  // Cancels the task (only it, not its pool). Does nothing once it has ended. `reason` joins
  // the Cancelled the task sees (CancelScope::cancel).
  void cancel(std::string_view reason = {}) {
    internal::ChildTask<T>& task = checked("TaskHandle::cancel");
    if (!task.done()) task.own_scope().cancel(reason);
  }

  // The value of an ended task (copied). Rethrows its exception; throws TaskCancelledError if it
  // was cancelled, UsageError if it has not ended yet.
  T result() const {
    internal::ChildTask<T>& task = checked("TaskHandle::result");
    task.rethrow_if_failed("TaskHandle::result");
    if constexpr (!std::is_void_v<T>) return *task.value_;
  }
  // Moves the value out of an ended task; later calls throw UsageError.
  T take_result() {
    internal::ChildTask<T>& task = checked("TaskHandle::take_result");
    task.rethrow_if_failed("TaskHandle::take_result");
    if constexpr (!std::is_void_v<T>) {
      if (!task.value_) throw UsageError("TaskHandle::take_result: the value was already taken");
      T value = std::move(*task.value_);
      task.value_.reset();
      return value;
    }
  }

  // Waits for the task to end, then behaves as result() (take_result() for move-only T).
  Task<T> join() {
    internal::ChildTask<T>& task = checked("TaskHandle::join");
    TaskHandle keep_alive = *this;
    while (!task.done()) co_await task.joiners().park();
    if constexpr (std::is_copy_constructible_v<T> || std::is_void_v<T>) {
      co_return result();
    } else {
      co_return take_result();
    }
  }

 private:
  internal::ChildTask<T>& checked(const char* operation) const {
    if (task_ == nullptr) throw UsageError(std::string(operation) + ": empty TaskHandle");
    return *task_;
  }
  internal::ChildTask<T>* task_ = nullptr;
};

template <typename T>
TaskHandle<T> Loop::start(Task<T> main, std::string name) {
  if (!main.valid()) throw UsageError("Loop::start: the task is empty or was already awaited");
  auto* task = new internal::ChildTask<T>(*this, std::move(name), nullptr, std::move(main));
  TaskHandle<T> handle(task);
  launch(*task, task->own_scope(), nullptr);
  return handle;
}

template <typename T>
void Loop::run_until_done(const TaskHandle<T>& handle) {
  struct Restore {
    internal::TaskRecord*& awaited;
    internal::TaskRecord* previous;
    ~Restore() { awaited = previous; }
  } restore{awaited_, std::exchange(awaited_, &handle.record())};
  while (!handle.done()) run_once();
}

}  // namespace giambio

#endif  // GIAMBIO_TASK_HANDLE_H_
