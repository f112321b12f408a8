#include "giambio/cancel_scope.h"

#include "absl/strings/str_cat.h"
#include "giambio/loop.h"

namespace giambio {

CancelScope::~CancelScope() { detach(); }

void CancelScope::detach() {
  if (loop_ == nullptr) return;
  if (deadline_) loop_->disarm_timer(*deadline_);
  loop_->cancel_tree().detach(node_);
  loop_ = nullptr;
}

void CancelScope::cancel() {
  if (loop_ == nullptr) {  // not entered (yet, or any more): counted if it is entered
    internal::CancelTree::cancel_before_entry(node_);
    return;
  }
  loop_->check_thread("CancelScope::cancel");
  if (!loop_->cancel_tree().cancel(node_)) return;
  if (deadline_) loop_->disarm_timer(*deadline_);
  loop_->deliver_cancel(node_);
}

bool CancelScope::cancel_called() {
  if (!node_.cancel_called() && deadline_ && deadline_->time != absl::InfiniteFuture() &&
      (loop_ != nullptr || !entered_once_)) {
    Loop* loop = loop_ != nullptr ? loop_ : Loop::current_or_null();
    if (loop != nullptr && loop->now() >= deadline_->time) cancel();
  }
  return node_.cancel_called();
}

CancelScope::Deadline& CancelScope::deadline_state() {
  if (!deadline_) deadline_ = std::make_unique<Deadline>(*this);
  return *deadline_;
}

void CancelScope::set_deadline(absl::Time deadline) {
  Deadline& state = deadline_state();
  state.time = deadline;
  state.relative.reset();
  if (loop_ != nullptr) arm_deadline();
}

void CancelScope::set_relative_deadline(absl::Duration timeout) {
  if (timeout < absl::ZeroDuration()) {
    throw UsageError(absl::StrCat("CancelScope::set_relative_deadline(",
                                  absl::FormatDuration(timeout), "): must not be negative"));
  }
  if (loop_ == nullptr) {
    deadline_state().relative = timeout;
  } else {
    set_deadline(loop_->now() + timeout);
  }
}

void CancelScope::set_shield(bool shield) {
  // Dropping the shield exposes the scope to outer cancellations it was hiding.
  if (internal::CancelTree::set_shield(node_, shield)) loop_->deliver_cancel(node_);
}

void CancelScope::arm_deadline() {
  if (!deadline_) return;
  if (node_.cancel_called() || deadline_->time == absl::InfiniteFuture()) {
    loop_->disarm_timer(*deadline_);
  } else {
    loop_->arm_timer(*deadline_, deadline_->time);
  }
}

void CancelScope::enter_current() {
  Loop& loop = Loop::current("CancelScope::run");
  enter(loop, loop.current_task("CancelScope::run"));
}

bool CancelScope::exit_current(const std::exception_ptr& error) {
  return exit(loop_->current_task("CancelScope::run"), error);
}

void CancelScope::enter(Loop& loop, internal::TaskRecord& task) {
  if (entered_once_) {
    throw UsageError(absl::StrCat("CancelScope::run: scope ", node_.id(),
                                  " was already entered once; a scope is entered at most once"));
  }
  entered_once_ = true;
  loop_ = &loop;
  loop.cancel_tree().enter(node_, task);
  if (deadline_ && deadline_->relative) {
    deadline_->time = loop.now() + *std::exchange(deadline_->relative, std::nullopt);
  }
  arm_deadline();
}

bool CancelScope::exit(internal::TaskRecord& task, const std::exception_ptr& error) {
  Loop& loop = *loop_;
  if (deadline_) loop.disarm_timer(*deadline_);
  loop.cancel_tree().exit(node_, task);
  loop_ = nullptr;
  if (error == nullptr) return false;
  try {
    std::rethrow_exception(error);
  } catch (const Cancelled& cancelled) {
    if (cancelled.owner_scope_id() == node_.id()) {
      cancelled_caught_ = true;
      return true;
    }
  } catch (...) {
  }
  return false;
}

}  // namespace giambio
