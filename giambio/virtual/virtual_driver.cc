#include "giambio/virtual/virtual_driver.h"

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"

namespace giambio {

void VirtualDriver::submit(Operation& op) {
  throw UsageError(absl::StrCat(op.name(),
                                ": the virtual-clock driver performs no I/O "
                                "(run I/O on the epoll driver or in the simulator)"));
}

void VirtualDriver::cancel(Operation& op) {
  throw UsageError(absl::StrCat(op.name(), ": the virtual-clock driver has no I/O to cancel"));
}

void VirtualDriver::poll(absl::Time deadline) {
  if (deadline != absl::InfiniteFuture() && deadline > now_) now_ = deadline;
}

}  // namespace giambio
