// giambio/test_util.h: helpers shared by giambio's own tests (testonly).
#ifndef GIAMBIO_TEST_UTIL_H_
#define GIAMBIO_TEST_UTIL_H_

#include <dirent.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "giambio/run.h"
#include "giambio/time.h"

namespace giambio::testing {

// Runs `main` on the virtual-clock driver: sleeps take no wall time and timing is exact.
template <typename T>
T run_virtual(Task<T> main, std::optional<uint64_t> schedule_seed = std::nullopt) {
  RunOptions options;
  options.driver = DriverKind::kVirtual;
  options.schedule_seed = schedule_seed;
  return run(std::move(main), std::move(options));
}

// Virtual time elapsed since the loop started (the virtual clock starts at the Unix epoch).
inline absl::Duration elapsed() { return giambio::now() - absl::UnixEpoch(); }

// How many descriptors this process has open (for "nothing leaked" checks).
inline int open_descriptors() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (readdir(dir) != nullptr) ++count;
  closedir(dir);
  return count;
}

// A log of events, to check the order in which things happened.
class EventLog {
 public:
  void add(std::string event) { events_.push_back(std::move(event)); }
  const std::vector<std::string>& events() const { return events_; }

 private:
  std::vector<std::string> events_;
};

}  // namespace giambio::testing

#endif  // GIAMBIO_TEST_UTIL_H_
