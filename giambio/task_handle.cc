#include "giambio/task_handle.h"

#include "absl/strings/str_cat.h"
#include "giambio/pool.h"

namespace giambio::internal {

void ChildTaskBase::rethrow_if_failed(const char* operation) const {
  if (!done_) {
    throw UsageError(absl::StrCat(operation, ": task ", id(), " '", name(), "' has not ended"));
  }
  if (cancelled_) {
    throw TaskCancelledError(
        absl::StrCat(operation, ": task ", id(), " '", name(), "' was cancelled"));
  }
  if (error_) std::rethrow_exception(error_);
}

void ChildTaskBase::finish(std::exception_ptr error) {
  // A task ends on its loop's thread; the record does not spend 8 bytes to remember the loop.
  Loop& loop = Loop::current("giambio task exit");
  const bool caught = own_scope_.exit(*this, error);
  CancelTree::forget(*this);  // leave the pool's scope
  if (caught) {
    cancelled_ = true;
    error = nullptr;
    loop.notify([&](Instrument& i) { i.after_cancel(info()); });
  } else if (error) {
    bool is_cancellation = false;
    try {
      std::rethrow_exception(error);
    } catch (const Cancelled&) {
      is_cancellation = true;
    } catch (...) {
    }
    if (is_cancellation) {
      loop.notify([&](Instrument& i) { i.after_cancel(info()); });
    } else {
      loop.notify([&](Instrument& i) { i.on_exception_raised(info(), error); });
    }
  }
  error_ = std::move(error);
  done_ = true;
  if (joiners_) joiners_->unpark_all();
  if (pool_ != nullptr) pool_->child_exited(*this);
  release();
}

void ChildTaskBase::abandon() {
  own_scope_.detach();
  CancelTree::forget(*this);
  done_ = true;
  cancelled_ = true;
  release();
}

}  // namespace giambio::internal
