#include "giambio/driver_choice.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "giambio/epoll/epoll_driver.h"
#include "giambio/errors.h"
#include "giambio/uring/uring_driver.h"
#include "giambio/virtual/virtual_driver.h"

namespace giambio {
namespace {

DriverKind from_environment() {
  const char* env = std::getenv("GIAMBIO_DRIVER");
  const std::string wanted = env == nullptr ? "" : env;
  if (wanted.empty()) return DriverKind::kAuto;
  if (wanted == "uring") return DriverKind::kUring;
  if (wanted == "epoll") return DriverKind::kEpoll;
  if (wanted == "virtual") return DriverKind::kVirtual;
  throw UsageError(absl::StrCat("GIAMBIO_DRIVER=", wanted,
                                ": unknown driver; expected uring, epoll or virtual"));
}

}  // namespace

std::unique_ptr<Driver> make_driver(DriverKind kind, VirtualClockOptions virtual_clock) {
  if (kind != DriverKind::kVirtual) touch_real_world("giambio::run on a real driver");
  if (kind == DriverKind::kAuto) kind = from_environment();
  switch (kind) {
    case DriverKind::kVirtual:
      return std::make_unique<VirtualDriver>(virtual_clock);
    case DriverKind::kEpoll:
      return std::make_unique<EpollDriver>();
    case DriverKind::kUring: {
      absl::StatusOr<std::unique_ptr<UringDriver>> uring = UringDriver::create();
      if (!uring.ok()) throw std::runtime_error(uring.status().ToString());
      return *std::move(uring);
    }
    case DriverKind::kAuto:
      break;
  }
  absl::StatusOr<std::unique_ptr<UringDriver>> uring = UringDriver::create();
  if (uring.ok()) return *std::move(uring);
  static std::once_flag logged;
  std::call_once(logged, [&] {
    std::fprintf(stderr, "giambio: io_uring is unavailable (%s); using epoll\n",
                 uring.status().ToString().c_str());
  });
  return std::make_unique<EpollDriver>();
}

}  // namespace giambio
