// giambio/task.h: Task<T>, the coroutine type every giambio function returns.
//
//   giambio::Task<int> answer() { co_await giambio::sleep(absl::Seconds(1)); co_return 42; }
//   giambio::Task<> caller() { int v = co_await answer(); ... }
//
// A Task is lazy: creating it runs nothing. `co_await`ing it runs it to completion inside the
// awaiting task and returns its value, or rethrows the exception it ended with. A Task is
// move-only and can be awaited once (awaiting it again, or awaiting a moved-from Task, throws
// UsageError). To run tasks concurrently, spawn them into a pool (pool.h).
//
// Awaiting transfers control without nesting calls: inside a giambio task, the awaiting
// coroutine suspends and names the awaited one as the next to run, and the task's trampoline
// in the scheduler resumes it (and, when it finishes, its awaiter). So arbitrarily deep await
// chains use constant stack in every build. (Plain C++20 symmetric transfer only becomes a tail
// call when the compiler optimizes and does not instrument the stack; under -O0 or ASan a
// chain of a million awaits would overflow it. Outside a giambio task, Task falls back to
// symmetric transfer.)
//
// Cancellation: a Task has no cancellation state of its own. It runs under the cancel scopes of
// the giambio task that awaits it, and giambio::Cancelled propagates through it like any other
// exception.
#ifndef GIAMBIO_TASK_H_
#define GIAMBIO_TASK_H_

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include "giambio/errors.h"
#include "giambio/internal/frame_pool.h"

namespace giambio {

template <typename T = void>
class Task;

namespace internal {

// While the scheduler runs a task, where that task's trampoline takes the next coroutine to
// resume from; nullptr outside tasks. Set by the loop only. constinit: read straight, without
// the call other translation units make to a thread_local that might need initializing.
extern constinit thread_local std::coroutine_handle<>* trampoline_slot;

// Hands control to `next`: through the running task's trampoline if there is one (read at the
// moment of the transfer: a task resumes in a different turn than it suspended in), else by
// symmetric transfer.
inline std::coroutine_handle<> transfer_to(std::coroutine_handle<>* slot,
                                           std::coroutine_handle<> next) noexcept {
  if (slot == nullptr) return next;
  *slot = next;
  return std::noop_coroutine();
}

// What a coroutine with nothing to continue (a task's root) leaves in the trampoline when it
// finishes: the loop then knows the task may have ended without reading the root's frame.
inline std::coroutine_handle<> root_finished() noexcept { return std::noop_coroutine(); }

// What a finished coroutine left behind: nothing yet, a value, or an exception.
template <typename T>
class Outcome {
 public:
  template <typename U>
  void set_value(U&& value) {
    state_.template emplace<1>(std::forward<U>(value));
  }
  void set_exception(std::exception_ptr error) { state_.template emplace<2>(std::move(error)); }
  bool has_exception() const { return state_.index() == 2; }
  const std::exception_ptr& exception() const { return std::get<2>(state_); }
  // Moves the value out, or rethrows the exception.
  T take() {
    if (state_.index() == 2) std::rethrow_exception(std::get<2>(state_));
    return std::move(std::get<1>(state_));
  }

 private:
  std::variant<std::monostate, T, std::exception_ptr> state_;
};

template <>
class Outcome<void> {
 public:
  void set_value() {}
  void set_exception(std::exception_ptr error) { error_ = std::move(error); }
  bool has_exception() const { return error_ != nullptr; }
  const std::exception_ptr& exception() const { return error_; }
  void take() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
};

template <typename T>
class TaskPromiseBase {
 public:
  // Frames are recycled per thread (internal/frame_pool.h).
  static void* operator new(std::size_t size) { return allocate_frame(size); }
  static void operator delete(void* frame, std::size_t size) noexcept { free_frame(frame, size); }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
      TaskPromiseBase& promise = self.promise();
      if (!promise.continuation_) {  // a task's root: back to the loop, saying so
        if (trampoline_slot != nullptr) *trampoline_slot = root_finished();
        return std::noop_coroutine();
      }
      return transfer_to(trampoline_slot, promise.continuation_);
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept { outcome_.set_exception(std::current_exception()); }

  void set_continuation(std::coroutine_handle<> continuation) { continuation_ = continuation; }
  Outcome<T>& outcome() { return outcome_; }

 protected:
  Outcome<T> outcome_;
  std::coroutine_handle<> continuation_;
};

template <typename T>
class TaskPromise final : public TaskPromiseBase<T> {
 public:
  Task<T> get_return_object() noexcept;
  template <typename U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) { this->outcome_.set_value(std::forward<U>(value)); }
};

template <>
class TaskPromise<void> final : public TaskPromiseBase<void> {
 public:
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

}  // namespace internal

template <typename T>
class [[nodiscard]] Task {
  static_assert(!std::is_reference_v<T>, "Task<T&> is not supported; return a pointer instead");

 public:
  using promise_type = internal::TaskPromise<T>;
  using value_type = T;

  Task() noexcept = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { destroy(); }

  // True if this Task holds a coroutine that has not been awaited yet.
  bool valid() const noexcept { return handle_ && !started_; }

  class Awaiter {
   public:
    explicit Awaiter(Task& task) : task_(task) {}
    bool await_ready() const noexcept { return !task_.valid(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
      task_.started_ = true;
      task_.handle_.promise().set_continuation(caller);
      return internal::transfer_to(internal::trampoline_slot, task_.handle_);
    }
    T await_resume() {
      if (!task_.handle_ || !task_.started_) {
        throw UsageError("co_await Task: the task is empty (moved from) or was already awaited");
      }
      struct Release {
        Task& task;
        ~Release() { task.destroy(); }
      } release{task_};
      return task_.handle_.promise().outcome().take();
    }

   private:
    Task& task_;
  };

  // Runs the task inside the awaiting one. Only rvalues can be awaited: `co_await f()` or
  // `co_await std::move(task)`, which makes the one-shot nature visible at the call site.
  Awaiter operator co_await() && noexcept { return Awaiter(*this); }

  // For the runtime: the coroutine, released from this Task.
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(handle_, {}); }

 private:
  friend promise_type;
  explicit Task(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
  void destroy() noexcept {
    if (handle_) {
      handle_.destroy();
      handle_ = {};
    }
    started_ = false;
  }

  std::coroutine_handle<promise_type> handle_;
  bool started_ = false;
};

// An awaitable that is not a Task but converts to one (StreamTransfer, stream_transfer.h): the
// calls that take a Task body (with_timeout, skip_after, CancelScope::run, Pool::spawn) take
// these too. (A type without
// `result_type` does not satisfy it.)
template <typename C>
concept ConvertsToTask = std::convertible_to<C, Task<typename C::result_type>>;

namespace internal {

template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}

inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

}  // namespace internal
}  // namespace giambio

#endif  // GIAMBIO_TASK_H_
