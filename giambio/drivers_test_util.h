// giambio/drivers_test_util.h: running one test suite on every real driver (testonly).
//
//   class MyTest : public giambio::testing::OnEveryDriver {};
//   TEST_P(MyTest, Works) { run_here(body()); }
//   GIAMBIO_ON_EVERY_DRIVER(MyTest);
//
// The io_uring instance skips, saying why, where io_uring is unavailable, so the suite still
// passes on epoll alone there.
#ifndef GIAMBIO_DRIVERS_TEST_UTIL_H_
#define GIAMBIO_DRIVERS_TEST_UTIL_H_

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
