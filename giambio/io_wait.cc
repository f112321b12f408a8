#include "giambio/io_wait.h"

#include "absl/strings/str_cat.h"

namespace giambio {
namespace internal {

absl::Status ReadinessWait::await_resume() {
  const int64_t result = op_.await_resume();
  if (result >= 0) return absl::OkStatus();
  return errno_status(static_cast<int>(-result), op_.name(), absl::StrCat("fd=", op_.fd()));
}

}  // namespace internal

internal::ReadinessWait wait_readable(int fd) { return {OpKind::kWaitReadable, fd}; }
internal::ReadinessWait wait_writable(int fd) { return {OpKind::kWaitWritable, fd}; }

}  // namespace giambio
