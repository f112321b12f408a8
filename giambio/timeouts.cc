#include "giambio/timeouts.h"

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"

namespace giambio::internal {

absl::Status timeout_cancelled(const char* operation, absl::Duration timeout,
                               const CancelReason* reason) {
  if (reason == nullptr || reason->source == CancelReason::Source::kDeadline) {
    return absl::DeadlineExceededError(
        absl::StrCat(operation, "(", absl::FormatDuration(timeout),
                     "): the deadline passed before the body ended"));
  }
  return absl::CancelledError(
      absl::StrCat(operation, "(", absl::FormatDuration(timeout), "): ", reason->message));
}

void check_timeout(const char* operation, absl::Duration timeout) {
  if (timeout >= absl::ZeroDuration()) return;
  throw UsageError(absl::StrCat(operation, "(", absl::FormatDuration(timeout),
                                "): the timeout must not be negative"));
}

}  // namespace giambio::internal
