// giambio/virtual/virtual_driver.h: a driver with a virtual clock and no I/O.
//
//   RunOptions options;
//   options.driver = DriverKind::kVirtual;
//   options.virtual_clock.autojump_threshold = absl::InfiniteDuration();  // jump by hand
//   giambio::run(test(), std::move(options));      // in test(): giambio::jump_clock(...)
//
// Time starts at absl::UnixEpoch() and moves only when the loop waits or a test jumps it. With
// the default autojump threshold (zero), poll(deadline) jumps the clock straight to the deadline:
// whenever every task waits, time leaps to the next timer (Trio's MockClock with
// autojump_threshold=0). Sleeping an hour costs microseconds, and a test's timing is exact and
// repeatable. A positive threshold first waits that long in real time with every task blocked
// (for work outside the loop, such as worker threads), then jumps; an infinite one never jumps:
// time moves only through jump_clock() (time.h), and tasks that wait only for timers are a
// deadlock. The driver performs no I/O: submit() throws UsageError. The simulator's driver (sim/)
// adds a simulated network and disk under the same kind of clock.
#ifndef GIAMBIO_VIRTUAL_VIRTUAL_DRIVER_H_
#define GIAMBIO_VIRTUAL_VIRTUAL_DRIVER_H_

#include "absl/time/time.h"
#include "giambio/driver.h"

namespace giambio {

struct VirtualClockOptions {
  // How long, in real time, every task must have been blocked before the clock jumps to the
  // next timer: zero jumps at once, absl::InfiniteDuration() never (see the top of this file).
  absl::Duration autojump_threshold = absl::ZeroDuration();
};

class VirtualDriver final : public Driver {
 public:
  // A negative threshold is a UsageError.
  explicit VirtualDriver(VirtualClockOptions options = {});

  const char* name() const override { return "virtual"; }
  absl::Time now() override { return now_; }
  void submit(Operation& op) override;
  void cancel(Operation& op) override;
  void poll(absl::Time deadline) override;
  size_t pending() const override { return 0; }
  void cancel_all() override {}
  // Moves the clock forward by `d` (>= 0, finite; otherwise UsageError).
  void jump(absl::Duration d) override;
  bool clock_moves_by_itself() const override {
    return options_.autojump_threshold != absl::InfiniteDuration();
  }
  // UsageError: signals arrive through a descriptor, and this driver performs no I/O.
  internal::SignalHub* signal_hub() override;
  // No threads: they would escape the virtual clock (to_thread runs inline here).
  bool threads_allowed() const override { return false; }

 private:
  VirtualClockOptions options_;
  absl::Time now_ = absl::UnixEpoch();
};

}  // namespace giambio

#endif  // GIAMBIO_VIRTUAL_VIRTUAL_DRIVER_H_
