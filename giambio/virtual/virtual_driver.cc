#include "giambio/virtual/virtual_driver.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "giambio/errors.h"

namespace giambio {

VirtualDriver::VirtualDriver(VirtualClockOptions options) : options_(options) {
  if (options_.autojump_threshold < absl::ZeroDuration()) {
    throw UsageError(absl::StrCat("VirtualClockOptions::autojump_threshold = ",
                                  absl::FormatDuration(options_.autojump_threshold),
                                  ": negative (zero jumps at once, infinite never)"));
  }
}

void VirtualDriver::submit(Operation& op) {
  throw UsageError(absl::StrCat(op.name(),
                                ": the virtual-clock driver performs no I/O "
                                "(run I/O on the epoll driver or in the simulator)"));
}

internal::SignalHub* VirtualDriver::signal_hub() {
  throw UsageError(
      "open_signal_receiver: the virtual-clock driver performs no I/O, and signals arrive through "
      "a descriptor (use the epoll or io_uring driver, or the simulator's World::signal)");
}

void VirtualDriver::cancel(Operation& op) {
  throw UsageError(absl::StrCat(op.name(), ": the virtual-clock driver has no I/O to cancel"));
}

void VirtualDriver::poll(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture() || deadline <= now_) return;
  if (!clock_moves_by_itself()) return;
  // Every task is blocked. A positive threshold gives work outside the loop that long, in real
  // time, before the clock jumps (nothing outside can reach this driver yet: threads that call
  // into the loop, issue #18, will cut this wait short).
  if (options_.autojump_threshold > absl::ZeroDuration())
    absl::SleepFor(options_.autojump_threshold);
  now_ = deadline;
}

void VirtualDriver::jump(absl::Duration d) {
  if (d < absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    throw UsageError(absl::StrCat("giambio::jump_clock(", absl::FormatDuration(d),
                                  "): the clock jumps forward by a finite duration"));
  }
  now_ += d;
}

}  // namespace giambio
