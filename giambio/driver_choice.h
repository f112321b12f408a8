// giambio/driver_choice.h: which driver a program's loop runs on, and the one place that decides.
//
//   std::unique_ptr<giambio::Driver> driver = giambio::make_driver(giambio::DriverKind::kAuto);
//
// The scheduler (loop.h) takes whatever Driver it is given and never asks which; run() (run.h)
// calls make_driver for the kind its RunOptions name. kAuto reads GIAMBIO_DRIVER from the
// environment ("uring", "epoll" or "virtual"); unset, it picks io_uring and falls back to epoll,
// logging the reason once per process, where io_uring cannot be set up (an old kernel, a
// seccomp filter, io_uring_disabled).
//
// A real driver inside a simulation trips the simulator's wire (driver.h, touch_real_world).
#ifndef GIAMBIO_DRIVER_CHOICE_H_
#define GIAMBIO_DRIVER_CHOICE_H_

#include <memory>

#include "giambio/driver.h"
#include "giambio/virtual/virtual_driver.h"

namespace giambio {

enum class DriverKind {
  // GIAMBIO_DRIVER from the environment if set, else io_uring, falling back to epoll (with the
  // reason logged once) where io_uring cannot be set up.
  kAuto,
  // io_uring; if it cannot be set up, make_driver throws std::runtime_error saying why.
  kUring,
  // epoll readiness and non-blocking syscalls; real time.
  kEpoll,
  // No I/O; time is virtual and jumps to the next timer whenever every task waits, so sleeps
  // of hours take microseconds. For tests of timing logic (Trio's MockClock; `virtual_clock`
  // below sets its autojump threshold, virtual/virtual_driver.h).
  kVirtual,
};

// The driver `kind` names (`virtual_clock` applies to kVirtual, also when GIAMBIO_DRIVER picks
// it). Throws UsageError for a bad GIAMBIO_DRIVER value, and std::runtime_error if the driver
// asked for explicitly cannot be set up.
std::unique_ptr<Driver> make_driver(DriverKind kind, VirtualClockOptions virtual_clock = {});

}  // namespace giambio

#endif  // GIAMBIO_DRIVER_CHOICE_H_
