// giambio/internal/monotonic_clock.h: the real drivers' clock.
//
// CLOCK_MONOTONIC on absl::Time's scale: an arbitrary epoch (boot), like Trio's current_time();
// never compare it with the wall clock.
#ifndef GIAMBIO_INTERNAL_MONOTONIC_CLOCK_H_
#define GIAMBIO_INTERNAL_MONOTONIC_CLOCK_H_

#include <time.h>

#include "absl/time/time.h"

namespace giambio::internal {

inline absl::Time monotonic_now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::UnixEpoch() + absl::DurationFromTimespec(ts);
}

// How long to wait until `deadline` (absl::InfinitePast(): not at all), as a timespec; nullptr
// for an infinite deadline. `storage` holds the value pointed to.
inline timespec* wait_timespec(absl::Time deadline, timespec& storage) {
  if (deadline == absl::InfiniteFuture()) return nullptr;
  storage = timespec{};
  if (deadline != absl::InfinitePast()) {
    const absl::Duration wait = deadline - monotonic_now();
    if (wait > absl::ZeroDuration()) storage = absl::ToTimespec(wait);
  }
  return &storage;
}

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_MONOTONIC_CLOCK_H_
