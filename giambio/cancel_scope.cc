#include "giambio/cancel_scope.h"

#include <cassert>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "giambio/loop.h"

namespace giambio {

CancelScope::~CancelScope() { detach(); }

void CancelScope::detach() {
  if (loop_ != nullptr) {
    if (deadline_) loop_->disarm_timer(*deadline_);
    if (cancel_called_) loop_->scope_cancelled_while_entered(-1);
    tasks_.for_each([&](internal::TaskRecord& task) {
      decltype(tasks_)::remove(task);
      task.scope = parent_;
      if (parent_ != nullptr) parent_->tasks_.push_back(task);
    });
    children_.for_each([&](CancelScope& child) {
      decltype(children_)::remove(child);
      child.parent_ = parent_;
      if (parent_ != nullptr) parent_->children_.push_back(child);
    });
    if (child_node_.linked()) child_node_.unlink();
    loop_ = nullptr;
  }
}

void CancelScope::cancel() {
  if (loop_ != nullptr) loop_->check_thread("CancelScope::cancel");
  if (cancel_called_) return;
  cancel_called_ = true;
  if (loop_ == nullptr) return;  // not entered (yet, or any more)
  if (deadline_) loop_->disarm_timer(*deadline_);
  loop_->scope_cancelled_while_entered(+1);
  loop_->deliver_cancel(*this);
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
  if (shield_ == shield) return;
  shield_ = shield;
  // Dropping the shield exposes the scope to outer cancellations it was hiding.
  if (!shield && loop_ != nullptr) loop_->deliver_cancel(*this);
}

void CancelScope::arm_deadline() {
  if (!deadline_) return;
  if (cancel_called_ || deadline_->time == absl::InfiniteFuture()) {
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
    throw UsageError(absl::StrCat("CancelScope::run: scope ", id_,
                                  " was already entered once; a scope is entered at most once"));
  }
  entered_once_ = true;
  loop_ = &loop;
  id_ = loop.next_scope_id();
  parent_ = task.scope;
  if (task.scope_node.linked()) task.scope_node.unlink();
  tasks_.push_back(task);
  task.scope = this;
  if (parent_ != nullptr) parent_->children_.push_back(*this);
  if (deadline_ && deadline_->relative) {
    deadline_->time = loop.now() + *std::exchange(deadline_->relative, std::nullopt);
  }
  if (cancel_called_) loop.scope_cancelled_while_entered(+1);
  arm_deadline();
}

bool CancelScope::exit(internal::TaskRecord& task, const std::exception_ptr& error) {
  Loop& loop = *loop_;
  assert(task.scope == this && "cancel scopes must exit in the order they were entered");
  assert(children_.empty() && "a scope exits while scopes inside it are still entered");
  if (deadline_) loop.disarm_timer(*deadline_);
  if (cancel_called_) loop.scope_cancelled_while_entered(-1);
  tasks_.remove(task);
  task.scope = parent_;
  if (parent_ != nullptr) {
    parent_->tasks_.push_back(task);
    child_node_.unlink();
  }
  loop_ = nullptr;
  if (error == nullptr) return false;
  try {
    std::rethrow_exception(error);
  } catch (const Cancelled& cancelled) {
    if (cancelled.owner_scope_id() == id_) {
      cancelled_caught_ = true;
      return true;
    }
  } catch (...) {
  }
  return false;
}

}  // namespace giambio
