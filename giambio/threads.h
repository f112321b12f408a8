// giambio/threads.h: threads in and out of the loop (Trio's from_thread and to_thread).
//
//   // Blocking work out of the loop, on a worker thread; the task waits for its value:
//   std::string page = co_await giambio::to_thread([&] { return legacy_client.fetch(url); });
//
//   // Into the loop from any other thread:
//   giambio::LoopToken loop = giambio::current_loop_token();   // on the loop's thread
//   std::thread([loop] {
//     loop.run_soon([] { ... });                     // fire and forget, runs between tasks
//     int n = loop.run([]() -> giambio::Task<int> { co_return 42; });  // blocks, returns 42
//   }).detach();
//
// LoopToken: a thread-safe handle to a running loop. The loop waits for calls through an eventfd
// on its own driver (no polling), runs them in the order they were posted (FIFO per calling
// thread, and across threads in the order they got the queue's lock), run_soon's between tasks,
// run's as tasks of their own ("guests"). After the loop has ended every call is a clear error:
// run_soon returns FailedPrecondition, run throws RunFinishedError; a call queued when the loop
// ends is failed, never lost. While a token is alive the loop waits for its calls instead of
// reporting a deadlock. When main ends, run() cancels the guests still running and waits for
// them (structured: nothing outlives the run).
//
// to_thread(fn): runs a blocking callable on a worker thread and returns its value or rethrows
// its exception. At most CapacityLimiter::total_tokens() calls run at once per limiter: the
// default one belongs to the loop and has 40 tokens (Trio's default); pass your own in
// ToThreadOptions. Cancellation: by default the call waits for the callable (a thread cannot be
// interrupted), returns its value, and the cancellation is seen at the next cancel point; with
// abandon_on_cancel the task stops waiting at once and throws Cancelled, the callable finishes
// alone (it must own what it uses) and its token goes back to the limiter only when it has
// finished. Code in the thread can call back into the loop through a LoopToken.
//
// Several loops (Seastar's shards): run_loops(options, main) runs main(group, i) on N loops, each
// on its own thread with its own driver (optionally pinned to a core); every loop keeps serving
// the others' submit_to calls until every main has ended, and then run_loops returns. A task on one
// loop runs a task on another and awaits it with submit_to(group[j], fn): the value or the
// exception comes back; cancelling the awaiting task cancels the remote one and waits for it to
// end; a target loop that ended is a RunFinishedError. If one loop's main fails, every other loop's
// main is cancelled (reason "loop 1 failed: ...") and run_loops rethrows the error (a MultiError if
// several failed on their own): nothing outlives the call. A socket or stream may be handed to a
// task of another loop (its descriptor is the process's) and used and closed there: the loop
// that made it lets go of what it held of it (internal/file_holders.h). Not yet a listener that
// has accepted on an io_uring loop: that ring keeps its accept armed and takes the connections
// another loop's accepts wait for. Accept on a listener on one loop only, or give each loop a
// listener of its own (ListenOptions::reuse_port), as `echo_server --threads=N` does.
//
// Simulation and the virtual clock: threads would break determinism, so there to_thread runs the
// callable inline, on the loop's thread, right after a schedule point (same value, same
// exceptions, same cancellation semantics; it blocks the loop for as long as it runs), run_loops
// is refused (the simulator's tripwire, naming the call and the seed) and
// run_loops_interleaved(options, main) runs the same main on N loops that are lanes of the one
// loop: each has its own LoopToken, submit_to and cross-loop channels work between them, and a
// simulation's seed draws how their tasks interleave, so a multi-core service replays exactly.
// current_loop_token() works inside those lanes and is refused elsewhere (the tripwire).
#ifndef GIAMBIO_THREADS_H_
#define GIAMBIO_THREADS_H_

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "giambio/capacity_limiter.h"
#include "giambio/driver_choice.h"
#include "giambio/errors.h"
#include "giambio/loop.h"
#include "giambio/parking_lot.h"
#include "giambio/task.h"
#include "giambio/time.h"

namespace giambio {

namespace internal {
class Inbox;
class LoopGroupRun;
}  // namespace internal

// Thrown by LoopToken::run when the loop ended before (or while) the call ran.
class RunFinishedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LoopToken {
 public:
  LoopToken(const LoopToken& other);
  LoopToken& operator=(const LoopToken& other);
  ~LoopToken();

  // Runs fn() on the loop's thread soon, between tasks (it must not block; an exception it
  // throws is reported on stderr and dropped). From any thread, the loop's own included.
  absl::Status run_soon(std::function<void()> fn) const;

  // From a thread that is not the loop's: runs fn() (which returns a Task<T>) as a task of the
  // loop and blocks until it ends; returns its value or rethrows its exception. UsageError on
  // the loop's own thread (it would wait for itself); RunFinishedError once the loop has ended.
  template <typename F>
  auto run(F fn) const -> typename std::invoke_result_t<F&>::value_type;

 private:
  friend LoopToken current_loop_token();
  friend class internal::LoopGroupRun;  // makes the tokens of interleaved loops
  explicit LoopToken(std::shared_ptr<internal::Inbox> inbox);
  void check_not_loop_thread() const;
  // Posts a guest task made by `make` (on the loop's thread); `failed` runs if it never starts.
  void post_guest(std::function<Task<>()> make, std::function<void(absl::Status)> failed) const;

  template <typename F>
  friend auto submit_to(const LoopToken& target, F fn)
      -> Task<typename std::invoke_result_t<F&>::value_type>;
  // Starts a guest made by `make` on the loop; `started` gets its handle there (on that loop's
  // thread), `failed` runs (on the calling thread, or the loop's when it closes) if it never
  // starts.
  void post_guest_with_handle(std::function<Task<>()> make,
                              std::function<void(TaskHandle<void>)> started,
                              std::function<void(absl::Status)> failed) const;

  std::shared_ptr<internal::Inbox> inbox_;
};

// A token for the loop running on this thread. UsageError outside a loop, on the virtual clock
// and (through the tripwire) in a simulation.
LoopToken current_loop_token();

struct ToThreadOptions {
  // nullptr: the loop's default limiter (40 tokens).
  CapacityLimiter* limiter = nullptr;
  // Stop waiting at once when cancelled, leaving the callable to finish alone.
  bool abandon_on_cancel = false;
};

// The current loop's default limiter for to_thread (Trio's current_default_thread_limiter).
CapacityLimiter& default_thread_limiter();

namespace internal {

// Runs `work` on a thread of giambio's thread cache (threads are started as needed, kept for
// 10 s when idle, and born with every signal blocked).
void start_on_thread(std::function<void()> work);
// Whether this loop's threads may run (false on the virtual clock and in a simulation).
bool threads_allowed(Loop& loop);
// The inbox of the running loop, made on first use.
std::shared_ptr<Inbox> inbox_of(Loop& loop);
absl::Status post_to(Inbox& inbox, std::function<void()> fn);

// What a to_thread call and its thread share: the outcome and the way back to the loop.
template <typename R>
struct ThreadCall {
  std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> value;
  std::exception_ptr error;
  bool done = false;  // loop thread only
  ParkingLot finished{"to_thread"};
  CapacityLimiter* limiter = nullptr;
  std::shared_ptr<Inbox> inbox;
};

}  // namespace internal

template <typename F, typename R = std::invoke_result_t<F&>>
Task<R> to_thread(F fn, ToThreadOptions options) {
  Loop& loop = Loop::current("to_thread");
  if (!internal::threads_allowed(loop)) {
    co_await checkpoint();
    if constexpr (std::is_void_v<R>) {
      fn();
      co_return;
    } else {
      co_return fn();
    }
  }
  CapacityLimiter& limiter =
      options.limiter != nullptr ? *options.limiter : default_thread_limiter();
  auto call = std::make_shared<internal::ThreadCall<R>>();
  call->limiter = &limiter;
  call->inbox = internal::inbox_of(loop);
  co_await limiter.acquire_on_behalf_of(call.get());
  LoopToken keep_loop_reachable = current_loop_token();  // the loop waits for the outcome
  internal::start_on_thread([call, fn = std::move(fn), token = keep_loop_reachable]() mutable {
    try {
      if constexpr (std::is_void_v<R>) {
        fn();
        call->value.emplace(true);
      } else {
        call->value.emplace(fn());
      }
    } catch (...) {
      call->error = std::current_exception();
    }
    // Back on the loop's thread: the outcome is there, the token goes back.
    (void)internal::post_to(*call->inbox, [call] {
      call->done = true;
      call->limiter->release_on_behalf_of(call.get());
      call->finished.unpark_all();
    });
  });
  while (!call->done) co_await call->finished.park(nullptr, options.abandon_on_cancel);
  if (call->error) std::rethrow_exception(call->error);
  if constexpr (!std::is_void_v<R>) co_return std::move(*call->value);
}

template <typename F, typename R = std::invoke_result_t<F&>>
Task<R> to_thread(F fn) {
  return to_thread(std::move(fn), ToThreadOptions{});
}

namespace internal {

// How a task handed to another loop ended: its value, its exception, or cancelled. The exception
// is taken after its catch block has ended, so no reference to it stays on this thread.
template <typename T>
struct RemoteOutcome {
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr error;
  bool cancelled = false;
};

template <typename T, typename F>
Task<RemoteOutcome<T>> capture_outcome(F& fn) {
  RemoteOutcome<T> outcome;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await fn();
      outcome.value.emplace(true);
    } else {
      outcome.value.emplace(co_await fn());
    }
  } catch (const Cancelled&) {
    outcome.cancelled = true;
  } catch (...) {
    outcome.error = std::current_exception();
  }
  co_return outcome;
}

// LoopToken::run's outcome, handed from the loop's thread to the calling one under a mutex. The
// exception is moved in after its catch block has ended, so the calling thread holds the last
// reference (TSan sees every hand-over through the mutex).
template <typename T>
class CrossThreadResult {
 public:
  using Stored = std::conditional_t<std::is_void_v<T>, bool, T>;
  void set(std::optional<Stored> value, std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    value_ = std::move(value);
    error_ = std::move(error);
    done_ = true;
    ready_.notify_one();
  }
  void end(std::string why) {
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = std::move(why);
    done_ = true;
    ready_.notify_one();
  }
  T wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return done_; });
    if (!ended_.empty()) throw RunFinishedError(ended_);
    if (error_) std::rethrow_exception(std::move(error_));
    if constexpr (!std::is_void_v<T>) return std::move(*value_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  bool done_ = false;
  std::optional<Stored> value_;
  std::exception_ptr error_;
  std::string ended_;
};

}  // namespace internal

template <typename F>
auto LoopToken::run(F fn) const -> typename std::invoke_result_t<F&>::value_type {
  using T = typename std::invoke_result_t<F&>::value_type;
  check_not_loop_thread();
  internal::CrossThreadResult<T> result;
  // Ends the wait however the guest ends (a loop torn down destroys it unfinished).
  struct Settle {
    internal::CrossThreadResult<T>* result;
    bool settled = false;
    ~Settle() {
      if (!settled) result->end("LoopToken::run: the loop ended before the call finished");
    }
  };
  post_guest(
      [&result, fn = std::move(fn)]() mutable -> Task<> {
        Settle settle{&result};
        internal::RemoteOutcome<T> outcome = co_await internal::capture_outcome<T>(fn);
        if (!outcome.cancelled) {  // cancelled: the loop's main task ended, Settle reports it
          settle.settled = true;
          result.set(std::move(outcome.value), std::move(outcome.error));
        }
      },
      [&result](absl::Status why) { result.end(std::string(why.message())); });
  return result.wait();
}

// ---- Several loops ----

struct LoopsOptions {
  size_t count = 2;  // >= 1
  DriverKind driver = DriverKind::kAuto;
  bool pin_to_cores = false;  // loop i on core i % cores
};

// What every loop of a run_loops call knows: a token for each loop.
class LoopGroup {
 public:
  size_t size() const { return tokens_.size(); }
  const LoopToken& operator[](size_t i) const { return tokens_.at(i); }

 private:
  friend class internal::LoopGroupRun;
  std::vector<LoopToken> tokens_;
};

using LoopsMain = std::function<Task<>(const LoopGroup& group, size_t index)>;

// Runs main(group, i) on options.count loops (above); the calling thread waits for them all.
// UsageError for a count of 0 (and, through the tripwire, in a simulation).
void run_loops(const LoopsOptions& options, LoopsMain main);

// The same loops without threads, for the drivers that run none (a simulation, the virtual
// clock): each loop is a lane of the calling task's loop (its tasks, its LoopToken, its
// submit_to calls and guests, all on this thread), and the calling task waits for them all.
// Everything run_loops promises holds, and nothing else changes for main: in a simulation the
// lanes' tasks interleave in the order the seed draws, so a multi-core service (each loop
// listening with SO_REUSEPORT, say) replays exactly. A lane's LoopToken takes calls from this
// thread only (UsageError from another). UsageError for a count of 0, for options that need
// threads (driver, pin_to_cores) and on a driver that runs threads (use run_loops there).
Task<> run_loops_interleaved(const LoopsOptions& options, LoopsMain main);

namespace internal {

// submit_to's two halves. Home lives in the calling task's frame and is touched on the calling
// loop's thread only (the target reaches it through a raw pointer carried by run_soon, and the
// caller waits until that has arrived). Remote is the target loop's: touched on its thread only;
// the task handle is dropped there before the answer leaves, so whichever thread drops the last
// reference finds nothing of the other loop's.
template <typename T>
struct SubmitHome {
  bool done = false;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr error;
  std::string ended;  // non-empty: the target loop ended first
  ParkingLot finished{"submit_to"};
};
struct SubmitRemote {
  std::optional<TaskHandle<void>> task;
  bool cancel_requested = false;
};

}  // namespace internal

template <typename F>
auto submit_to(const LoopToken& target, F fn)
    -> Task<typename std::invoke_result_t<F&>::value_type> {
  using T = typename std::invoke_result_t<F&>::value_type;
  using Stored = std::conditional_t<std::is_void_v<T>, bool, T>;
  using Home = internal::SubmitHome<T>;
  Loop& here = Loop::current("submit_to");
  if (here.inbox_if_made() == target.inbox_) {
    throw UsageError("submit_to: the target is this task's own loop (await the task instead)");
  }
  Home home;
  auto remote = std::make_shared<internal::SubmitRemote>();
  LoopToken back = current_loop_token();  // keeps this loop waiting for the answer
  // On the target loop: sends the outcome home.
  // The outcome travels in one heap block, so no lambda copies or moves the value itself (GCC 12
  // reports a moved optional<std::string> captured by value as maybe-uninitialized).
  struct Delivery {
    std::optional<Stored> value;
    std::exception_ptr error;
    std::string ended;
  };
  auto answer = [back, at = &home](std::shared_ptr<Delivery> delivery) {
    (void)back.run_soon([at, delivery = std::move(delivery)] {
      at->value = std::move(delivery->value);
      at->error = std::move(delivery->error);
      at->ended = std::move(delivery->ended);
      at->done = true;
      at->finished.unpark_all();
    });
  };
  target.post_guest_with_handle(
      [remote, answer, fn = std::move(fn)]() mutable -> Task<> {
        internal::RemoteOutcome<T> outcome;
        if (!remote->cancel_requested) {  // else the caller gave up before the task started
          outcome = co_await internal::capture_outcome<T>(fn);
        }
        const bool target_ended = outcome.cancelled && !remote->cancel_requested;
        remote->task.reset();
        auto delivery = std::make_shared<Delivery>();
        delivery->value = std::move(outcome.value);
        delivery->error = std::move(outcome.error);
        if (target_ended)
          delivery->ended = "submit_to: the target loop ended before the call finished";
        answer(std::move(delivery));
      },
      [remote](TaskHandle<void> task) {
        remote->task = std::move(task);
        if (remote->cancel_requested) remote->task->cancel("submit_to: the caller was cancelled");
      },
      [answer](absl::Status why) {
        auto delivery = std::make_shared<Delivery>();
        delivery->ended = std::string(why.message());
        answer(std::move(delivery));
      });
  std::exception_ptr cancelled;
  try {
    while (!home.done) co_await home.finished.park();
  } catch (const Cancelled&) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    // The remote task is cancelled too, and waited for: nothing outlives the call.
    (void)target.run_soon([remote] {
      remote->cancel_requested = true;
      if (remote->task) remote->task->cancel("submit_to: the caller was cancelled");
    });
    while (!home.done) co_await home.finished.park(nullptr, /*abortable=*/false);
    std::rethrow_exception(cancelled);
  }
  if (!home.ended.empty()) throw RunFinishedError(home.ended);
  if (home.error) std::rethrow_exception(std::move(home.error));
  if constexpr (!std::is_void_v<T>) co_return std::move(*home.value);
}

}  // namespace giambio

#endif  // GIAMBIO_THREADS_H_
