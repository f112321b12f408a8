#include "giambio/timeouts.h"

#include "absl/strings/str_cat.h"

namespace giambio::internal {

absl::Status deadline_exceeded(const char* operation, absl::Duration timeout) {
  return absl::DeadlineExceededError(absl::StrCat(operation, "(", absl::FormatDuration(timeout),
                                                  "): the deadline passed before the body ended"));
}

}  // namespace giambio::internal
