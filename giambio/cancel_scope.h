// giambio/cancel_scope.h: CancelScope, Trio's cancellation model.
//
//   giambio::CancelScope scope;
//   scope.set_relative_deadline(absl::Seconds(5));
//   std::optional<int> v = co_await scope.run(compute());   // nullopt if the scope was cancelled
//
// A scope wraps a block of code (a Task run inside it with run()). Cancelling the scope, by
// cancel() or because its deadline passed, makes every cancel point inside it throw
// giambio::Cancelled: every blocking giambio operation and checkpoint(), in the task that runs
// the block and in every task spawned into pools opened inside it. Cancellation is
// level-triggered: each further cancel point throws again until the code leaves the scope.
//
// Ownership. A Cancelled belongs to the outermost cancelled scope around the cancel point that
// is not cut off by a shield; that scope catches it when it exits (cancelled_caught() becomes
// true and run() returns normally) and every scope in between lets it pass. So when nested
// scopes are both cancelled, the outer one wins.
//
// Shield. A shielded scope is not reached by cancellations of the scopes outside it (its own
// cancel() and deadline still work). Turning the shield off while a task inside waits delivers
// a pending outer cancellation at once.
//
// A scope may be configured and even cancelled before it is entered; it is entered once (run()
// a second time throws UsageError). All methods must be called on the loop's thread.
#ifndef GIAMBIO_CANCEL_SCOPE_H_
#define GIAMBIO_CANCEL_SCOPE_H_

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>

#include "absl/time/time.h"
#include "giambio/errors.h"
#include "giambio/internal/cancel_tree.h"
#include "giambio/internal/task_record.h"
#include "giambio/internal/timer_heap.h"
#include "giambio/task.h"

namespace giambio {

class Loop;

// What CancelScope::run returns: std::optional<T> (empty when the block was cancelled and the
// scope caught it), or void for Task<void>.
template <typename T>
using ScopeResult = std::conditional_t<std::is_void_v<T>, void, std::optional<T>>;

class CancelScope {
 public:
  CancelScope() = default;
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;
  ~CancelScope();

  // Cancels the scope. Idempotent. Tasks inside that are blocked are woken with Cancelled now;
  // running ones see it at their next cancel point. `reason` (optional) joins the scope's
  // CancelReason: "cancelled by task 3 'client': <reason>". Only the first cancellation of a
  // scope (or its deadline) sets the reason.
  void cancel(std::string_view reason = {});
  // Why the scope was cancelled, once cancel_called(); nullptr before.
  const CancelReason* cancel_reason() const { return extra_ ? extra_->reason.get() : nullptr; }
  // True once cancel() was called or the deadline has passed (as soon as it has passed, even
  // before the scope is entered or its timer fires); never false again.
  bool cancel_called();
  // True once the scope has caught the Cancelled it owned, on exit.
  bool cancelled_caught() const { return cancelled_caught_; }

  // The absolute deadline (absl::InfiniteFuture() by default), on the loop's clock. A deadline
  // in the past cancels the scope at the loop's next turn. Deadlines can be moved at any time.
  absl::Time deadline() const { return extra_ ? extra_->time : absl::InfiniteFuture(); }
  void set_deadline(absl::Time deadline);
  // Sets the deadline to now + `timeout`; before the scope is entered, to `timeout` after the
  // moment it is entered. A negative timeout is a UsageError.
  void set_relative_deadline(absl::Duration timeout);
  // How long until the deadline: before entry, a relative deadline not yet applied is returned
  // as set; otherwise deadline() - now() (negative once passed; absl::InfiniteDuration() with no
  // deadline). Trio's relative_deadline.
  absl::Duration relative_deadline();
  // True while a relative deadline waits to be applied at entry (Trio's is_relative()).
  bool is_relative() const { return extra_ && extra_->relative.has_value(); }

  bool shield() const { return node_.shield(); }
  void set_shield(bool shield);

  // The scope's id, handed out by the loop when the scope is entered (0 before); a Cancelled
  // names its owner by this id.
  uint64_t id() const { return node_.id(); }

  // Runs `body` inside this scope, in the current task, and returns its value; std::nullopt (or
  // nothing, for void) if the scope was cancelled and caught the cancellation. Any other
  // exception, including a Cancelled owned by an outer scope, propagates.
  template <typename T>
  Task<ScopeResult<T>> run(Task<T> body);
  // The same for a body that converts to a Task (a stream's read() or write_all()).
  template <ConvertsToTask C>
  auto run(C body) {
    return run(Task<typename C::result_type>(std::move(body)));
  }

  // ---- For giambio's runtime (pools, task handles); not part of the public API. ----
  // cancel() with a reason of the runtime's own (a pool whose task failed). Idempotent.
  void cancel_because(CancelReason reason);
  // The scope a node belongs to (every CancelNode is a CancelScope's), and the reason to put in
  // the Cancelled it owns.
  static CancelScope& of(internal::CancelNode& node);
  std::shared_ptr<const CancelReason> shared_reason() const {
    return extra_ ? extra_->reason : nullptr;
  }
  // `task` enters this scope, which becomes its innermost one; exit() leaves it again and
  // reports whether `error` is a Cancelled this scope owns, which it then catches. detach()
  // leaves the tree wherever the scope stands (loop teardown).
  void enter(Loop& loop, internal::TaskRecord& task);
  bool exit(internal::TaskRecord& task, const std::exception_ptr& error);
  void detach();
  // The scope's place in its loop's cancel tree (internal/cancel_tree.h).
  internal::CancelNode& node() { return node_; }

 private:
  // The deadline and the cancel reason live out of line, only in scopes that have a deadline or
  // were cancelled: every spawned task carries a scope of its own (for TaskHandle::cancel), and
  // most of those never have either.
  struct Extra final : internal::Timer {
    explicit Extra(CancelScope& scope) : scope(scope) {}
    void fire() override { scope.cancel_for_deadline(); }
    CancelScope& scope;
    absl::Time time = absl::InfiniteFuture();
    std::optional<absl::Duration> relative;  // applied when the scope is entered
    std::shared_ptr<const CancelReason> reason;
  };
  Extra& extra();
  void cancel_for_deadline();

  void enter_current();
  bool exit_current(const std::exception_ptr& error);
  void arm_deadline();

  Loop* loop_ = nullptr;  // while entered
  std::unique_ptr<Extra> extra_;
  // The flags below share the node's tail padding (every spawned task holds a scope).
  [[no_unique_address]] internal::CancelNode node_;
  bool cancelled_caught_ = false;
  bool entered_once_ = false;
};

// The deadline that applies to the running task now: the earliest deadline of the scopes around
// it, up to and including the innermost shielded one; absl::InfinitePast() if one of those is
// already cancelled, absl::InfiniteFuture() if none has a deadline (Trio's
// current_effective_deadline). Throws UsageError outside a task.
absl::Time current_effective_deadline();

// A cancel point that is not a schedule point: throws Cancelled if a cancellation reaches the
// running task, else returns at once without yielding (Trio's checkpoint_if_cancelled).
void checkpoint_if_cancelled();

template <typename T>
Task<ScopeResult<T>> CancelScope::run(Task<T> body) {
  enter_current();
  std::exception_ptr error;
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> result{};
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
    } else {
      result.emplace(co_await std::move(body));
    }
  } catch (...) {
    error = std::current_exception();
  }
  if (!exit_current(error) && error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return result;
}

}  // namespace giambio

#endif  // GIAMBIO_CANCEL_SCOPE_H_
