// giambio/virtual/virtual_driver.h: a driver with a virtual clock and no I/O.
//
// Time starts at absl::UnixEpoch() and moves only when the loop waits: poll(deadline) jumps the
// clock straight to the deadline, so whenever every task waits, time leaps to the next timer
// (Trio's MockClock with autojump). Sleeping an hour costs microseconds, and a test's timing
// is exact and repeatable. It performs no I/O: submit() throws UsageError. The simulator's
// driver (sim/) adds a simulated network and disk under the same kind of clock.
#ifndef GIAMBIO_VIRTUAL_VIRTUAL_DRIVER_H_
#define GIAMBIO_VIRTUAL_VIRTUAL_DRIVER_H_

#include "giambio/driver.h"

namespace giambio {

class VirtualDriver final : public Driver {
 public:
  const char* name() const override { return "virtual"; }
  absl::Time now() override { return now_; }
  void submit(Operation& op) override;
  void cancel(Operation& op) override;
  void poll(absl::Time deadline) override;
  size_t pending() const override { return 0; }
  void cancel_all() override {}

 private:
  absl::Time now_ = absl::UnixEpoch();
};

}  // namespace giambio

#endif  // GIAMBIO_VIRTUAL_VIRTUAL_DRIVER_H_
