#include "giambio/cancel_scope.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "giambio/loop.h"

namespace giambio {

CancelScope::~CancelScope() { detach(); }

void CancelScope::detach() {
  if (loop_ == nullptr) return;
  if (extra_) loop_->disarm_timer(*extra_);
  loop_->cancel_tree().detach(node_);
  loop_ = nullptr;
}

void CancelScope::cancel(std::string_view reason) {
  if (node_.cancel_called()) return;
  if (loop_ != nullptr) loop_->check_thread("CancelScope::cancel");
  // Who cancels: the running task, if any (a timer or the driver may cancel between tasks).
  Loop* loop = loop_ != nullptr ? loop_ : Loop::current_or_null();
  const internal::TaskRecord* task = loop != nullptr ? loop->running_task() : nullptr;
  std::string message =
      task != nullptr ? absl::StrCat("cancelled by task ", task->id(), " '", task->name(), "'")
                      : std::string("cancelled");
  if (!reason.empty())
    absl::StrAppend(&message, ": ", absl::string_view(reason.data(), reason.size()));
  cancel_because(CancelReason{CancelReason::Source::kExplicit, std::move(message)});
}

void CancelScope::cancel_for_deadline() {
  cancel_because(CancelReason{CancelReason::Source::kDeadline, "the deadline passed"});
}

void CancelScope::cancel_because(CancelReason reason) {
  if (node_.cancel_called()) return;  // the first reason stays
  if (loop_ != nullptr) loop_->check_thread("CancelScope::cancel");
  extra().reason = std::make_shared<const CancelReason>(std::move(reason));
  if (loop_ == nullptr) {  // not entered (yet, or any more): counted if it is entered
    internal::CancelTree::cancel_before_entry(node_);
    return;
  }
  loop_->cancel_tree().cancel(node_);
  loop_->disarm_timer(*extra_);
  loop_->deliver_cancel(node_);
}

CancelScope& CancelScope::of(internal::CancelNode& node) {
  // Every CancelNode is the node_ of a CancelScope (the tree never makes one of its own).
  const auto offset = reinterpret_cast<size_t>(&(static_cast<CancelScope*>(nullptr)->node_));
  return *reinterpret_cast<CancelScope*>(reinterpret_cast<char*>(&node) - offset);
}

bool CancelScope::cancel_called() {
  if (!node_.cancel_called() && extra_ && extra_->time != absl::InfiniteFuture() &&
      (loop_ != nullptr || !entered_once_)) {
    Loop* loop = loop_ != nullptr ? loop_ : Loop::current_or_null();
    if (loop != nullptr && loop->now() >= extra_->time) cancel_for_deadline();
  }
  return node_.cancel_called();
}

CancelScope::Extra& CancelScope::extra() {
  if (!extra_) extra_ = std::make_unique<Extra>(*this);
  return *extra_;
}

void CancelScope::set_deadline(absl::Time deadline) {
  Extra& state = extra();
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
    extra().relative = timeout;
  } else {
    set_deadline(loop_->now() + timeout);
  }
}

absl::Duration CancelScope::relative_deadline() {
  if (!extra_ || (!extra_->relative && extra_->time == absl::InfiniteFuture())) {
    return absl::InfiniteDuration();
  }
  if (extra_->relative) return *extra_->relative;
  Loop* loop = loop_ != nullptr ? loop_ : Loop::current_or_null();
  if (loop == nullptr) {
    throw UsageError("CancelScope::relative_deadline: no giambio loop runs on this thread");
  }
  return extra_->time - loop->now();
}

void CancelScope::set_shield(bool shield) {
  // Dropping the shield exposes the scope to outer cancellations it was hiding.
  if (internal::CancelTree::set_shield(node_, shield)) loop_->deliver_cancel(node_);
}

void CancelScope::arm_deadline() {
  if (!extra_) return;
  if (node_.cancel_called() || extra_->time == absl::InfiniteFuture()) {
    loop_->disarm_timer(*extra_);
  } else {
    loop_->arm_timer(*extra_, extra_->time);
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
  if (extra_ && extra_->relative) {
    extra_->time = loop.now() + *std::exchange(extra_->relative, std::nullopt);
  }
  arm_deadline();
}

bool CancelScope::exit(internal::TaskRecord& task, const std::exception_ptr& error) {
  Loop& loop = *loop_;
  if (extra_) loop.disarm_timer(*extra_);
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

absl::Time current_effective_deadline() {
  Loop& loop = Loop::current("giambio::current_effective_deadline");
  internal::TaskRecord& task = loop.current_task("giambio::current_effective_deadline");
  absl::Time deadline = absl::InfiniteFuture();
  for (internal::CancelNode* node = task.scope; node != nullptr; node = node->parent()) {
    CancelScope& scope = CancelScope::of(*node);
    if (scope.cancel_called()) return absl::InfinitePast();
    deadline = std::min(deadline, scope.deadline());
    if (node->shield()) break;
  }
  return deadline;
}

void checkpoint_if_cancelled() {
  Loop& loop = Loop::current("giambio::checkpoint_if_cancelled");
  loop.check_cancel(loop.current_task("giambio::checkpoint_if_cancelled"));
}

}  // namespace giambio
