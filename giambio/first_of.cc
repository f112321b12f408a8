#include "giambio/first_of.h"

namespace giambio {

std::string Failure::describe() const {
  return absl::StrCat("task ", index, ": ",
                      exception ? giambio::describe(exception) : status.ToString());
}

namespace internal {

absl::Status all_failed(const std::vector<Failure>& failures, size_t tasks) {
  std::string message = absl::StrCat("first_of: all ", tasks, " tasks failed");
  for (const Failure& failure : failures) absl::StrAppend(&message, "; ", failure.describe());
  const absl::StatusCode code = failures.empty() || failures.front().exception
                                    ? absl::StatusCode::kUnknown
                                    : failures.front().status.code();
  return absl::Status(code, message);
}

}  // namespace internal
}  // namespace giambio
