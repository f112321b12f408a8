#include "giambio/pool.h"

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "giambio/time.h"

namespace giambio::internal {

void PoolState::check_open(const char* operation) const {
  if (closed_) {
    throw UsageError(absl::StrCat(operation,
                                  ": the pool is closed (its body and all its tasks "
                                  "have ended)"));
  }
}

void PoolState::open() { scope_.enter(loop_, loop_.current_task("giambio::with_pool")); }

void PoolState::record(std::exception_ptr error, const TaskRecord* from) {
  try {
    std::rethrow_exception(error);
  } catch (const Cancelled& cancelled) {
    if (cancelled.owner_scope_id() == scope_.id()) return;  // our own: absorbed
    if (!outer_cancellation_) outer_cancellation_ = error;
    return;
  } catch (...) {
  }
  std::string message = from != nullptr ? absl::StrCat("task ", from->id(), " '", from->name(),
                                                       "' failed: ", describe(error))
                                        : absl::StrCat("the pool's body failed: ", describe(error));
  errors_.push_back(std::move(error));
  scope_.cancel_because(CancelReason{CancelReason::Source::kPoolError, std::move(message)});
}

void PoolState::wake_close_if_done() {
  if (live_children_ == 0 && pending_starts_ == 0) all_done_.unpark_all();
}

void PoolState::child_exited(ChildTaskBase& child) {
  if (child.error()) record(child.error(), &child);
  --live_children_;
  wake_close_if_done();
}

void PoolState::start_ended() {
  GIAMBIO_CHECK(pending_starts_ > 0, "Pool: a start() ended that was never counted");
  --pending_starts_;
  wake_close_if_done();
}

void PoolState::adopt(ChildTaskBase& child) {
  PoolState& from = *child.pool();
  internal::CancelNode& node = child.own_scope().node();
  loop_.cancel_tree().move_under(node, scope_.node());
  child.set_pool(this);
  ++live_children_;
  --from.live_children_;
  from.wake_close_if_done();
  // This pool may already be cancelled: the child must see it like any other child.
  if (loop_.cancel_tree().pending(child) != 0) loop_.deliver_cancel(node);
}

Task<> PoolState::close(std::exception_ptr body_error) {
  if (body_error) record(std::move(body_error), nullptr);
  // Closing a pool is a schedule point, even when nothing is left to wait for (as in Trio), but
  // never a cancel point: a pool in a cancelled scope closes without raising.
  if (live_children_ == 0 && pending_starts_ == 0) co_await internal::schedule_point();
  while (live_children_ > 0 || pending_starts_ > 0) {
    co_await all_done_.park(nullptr, /*abortable=*/false);
  }
  closed_ = true;
  scope_.exit(loop_.current_task("giambio::with_pool"), nullptr);
  if (errors_.size() == 1) std::rethrow_exception(errors_.front());
  if (errors_.size() > 1) throw MultiError(std::move(errors_));
  if (outer_cancellation_) std::rethrow_exception(outer_cancellation_);
}

}  // namespace giambio::internal
