#include "giambio/timeouts.h"

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"

namespace giambio::internal {

absl::Status deadline_exceeded(const char* operation, absl::Duration timeout) {
  return absl::DeadlineExceededError(absl::StrCat(operation, "(", absl::FormatDuration(timeout),
                                                  "): the deadline passed before the body ended"));
}

void check_timeout(const char* operation, absl::Duration timeout) {
  if (timeout >= absl::ZeroDuration()) return;
  throw UsageError(absl::StrCat(operation, "(", absl::FormatDuration(timeout),
                                "): the timeout must not be negative"));
}

}  // namespace giambio::internal
