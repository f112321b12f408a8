// giambio/drivers_test_util.h: running one test suite on every real driver (testonly).
//
//   class MyTest : public giambio::testing::OnEveryDriver {};
//   TEST_P(MyTest, Works) { run_here(body()); }
//   GIAMBIO_ON_EVERY_DRIVER(MyTest);
//
// The io_uring instance skips, saying why, where io_uring is unavailable, so the suite still
// passes on epoll alone there.
//
//   int fds[2]; pipe2(fds, O_CLOEXEC);
//   if (!renumber_pair(fds, 16500)) GTEST_SKIP() << "...";   // now fds 16500 and 16501
#ifndef GIAMBIO_DRIVERS_TEST_UTIL_H_
#define GIAMBIO_DRIVERS_TEST_UTIL_H_

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "giambio/run.h"
#include "giambio/uring/uring_driver.h"
#include "gtest/gtest.h"

namespace giambio::testing {

class OnEveryDriver : public ::testing::TestWithParam<DriverKind> {
 protected:
  void SetUp() override {
    if (GetParam() != DriverKind::kUring) return;
    absl::StatusOr<std::unique_ptr<UringDriver>> uring = UringDriver::create();
    if (!uring.ok()) GTEST_SKIP() << "io_uring is unavailable here: " << uring.status();
  }
  template <typename T>
  T run_here(Task<T> main) {
    RunOptions options;
    options.driver = GetParam();
    return run(std::move(main), std::move(options));
  }
};

// Moves the pair of descriptors in `fds` to the numbers `first` and `first + 1` (for tests of
// descriptors above what drivers track number by number), raising the descriptor limit as far as
// the hard limit allows. False, with `fds` unchanged, if the limit stays too low.
inline bool renumber_pair(int fds[2], int first) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  const rlim_t needed = static_cast<rlim_t>(first) + 2;
  if (limit.rlim_cur < needed) {
    limit.rlim_cur = std::min(limit.rlim_max, needed);
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < needed) return false;
  for (int i = 0; i < 2; ++i) {
    if (dup3(fds[i], first + i, O_CLOEXEC) != first + i) return false;
    ::close(fds[i]);
    fds[i] = first + i;
  }
  return true;
}

inline std::string driver_test_name(const ::testing::TestParamInfo<DriverKind>& info) {
  return info.param == DriverKind::kUring ? "io_uring" : "epoll";
}

}  // namespace giambio::testing

#define GIAMBIO_ON_EVERY_DRIVER(suite)                                                 \
  INSTANTIATE_TEST_SUITE_P(                                                            \
      Drivers, suite,                                                                  \
      ::testing::Values(::giambio::DriverKind::kUring, ::giambio::DriverKind::kEpoll), \
      ::giambio::testing::driver_test_name)

#endif  // GIAMBIO_DRIVERS_TEST_UTIL_H_
