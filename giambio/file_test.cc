#include "giambio/file.h"

#include <cstdlib>
#include <string>

#include "giambio/cancel_scope.h"
#include "giambio/drivers_test_util.h"
#include "giambio/pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::testing::HasSubstr;

class FileTest : public testing::OnEveryDriver {
 protected:
  std::string temp_path(const std::string& name) {
    return std::string(std::getenv("TEST_TMPDIR")) + "/" + name + "_" +
           testing::driver_test_name(::testing::TestParamInfo<DriverKind>(GetParam(), 0));
  }
};

TEST_P(FileTest, RoundTripWithSync) {
  const std::string path = temp_path("round_trip");
  auto body = [&]() -> Task<std::string> {
    absl::StatusOr<File> file = co_await File::open(path, O_RDWR | O_CREAT | O_TRUNC);
    EXPECT_TRUE(file.ok()) << file.status();
    std::string big(3 << 20, 'x');
    for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + i % 26);
    EXPECT_TRUE((co_await file->write_all_at(big, 0)).ok());
    EXPECT_TRUE((co_await file->write_all_at("HEAD", 0)).ok());
    EXPECT_TRUE((co_await file->sync()).ok());
    EXPECT_EQ(file->size().value_or(-1), static_cast<int64_t>(big.size()));
    absl::StatusOr<std::string> all = co_await file->read_at(static_cast<int64_t>(big.size()), 0);
    EXPECT_TRUE(all.ok());
    big.replace(0, 4, "HEAD");
    EXPECT_TRUE(*all == big);
    // Reads stop at the end of the file.
    absl::StatusOr<std::string> tail =
        co_await file->read_at(100, static_cast<int64_t>(big.size()) - 3);
    EXPECT_EQ(tail.value_or(""), big.substr(big.size() - 3));
    EXPECT_EQ((co_await file->read_at(10, 1 << 30)).value_or("?"), "");
    co_return std::string(all->substr(0, 6));
  };
  EXPECT_EQ(run_here(body()), "HEADxx");
}

TEST_P(FileTest, ManyConcurrentReadersAndWriters) {
  const std::string path = temp_path("concurrent");
  auto body = [&]() -> Task<int> {
    absl::StatusOr<File> file = co_await File::open(path, O_RDWR | O_CREAT | O_TRUNC);
    int matches = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 32; ++i) {
        pool.spawn([&, i]() -> Task<> {
          const std::string block(512, static_cast<char>('A' + i % 26));
          EXPECT_TRUE((co_await file->write_all_at(block, i * 512)).ok());
          absl::StatusOr<std::string> back = co_await file->read_at(512, i * 512);
          if (back.ok() && *back == block) ++matches;
        });
      }
      co_return;
    });
    co_return matches;
  };
  EXPECT_EQ(run_here(body()), 32);
}

TEST_P(FileTest, BadInputGivesClearErrors) {
  const std::string path = temp_path("bad_input");
  auto body = [&]() -> Task<> {
    absl::StatusOr<File> missing = co_await File::open("/no/such/dir/file");
    EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
    EXPECT_THAT(missing.status().message(), HasSubstr("open(/no/such/dir/file)"));
    absl::StatusOr<File> file = co_await File::open(path, O_RDWR | O_CREAT);
    EXPECT_TRUE(absl::IsInvalidArgument((co_await file->read_at(-1, 0)).status()));
    EXPECT_TRUE(absl::IsInvalidArgument((co_await file->read_at(1, -5)).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(co_await file->write_all_at("x", -1)));
    EXPECT_TRUE(file->close().ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(file->close()));
    absl::Status after = (co_await file->read_at(1, 0)).status();
    EXPECT_TRUE(absl::IsFailedPrecondition(after));
    EXPECT_THAT(after.message(), HasSubstr(path));
    absl::StatusOr<File> read_only = co_await File::open(path, O_RDONLY);
    absl::Status denied = co_await read_only->write_all_at("x", 0);
    EXPECT_FALSE(denied.ok());
    EXPECT_THAT(denied.message(), HasSubstr("pwrite("));
  };
  run_here(body());
}

// A cancellation that arrives while a file operation runs does not tear the file: the write
// completes, then the cancellation is seen.
TEST_P(FileTest, CancelledWriteCompletesOrDoesNotStart) {
  const std::string path = temp_path("cancelled");
  auto body = [&]() -> Task<> {
    absl::StatusOr<File> file = co_await File::open(path, O_RDWR | O_CREAT | O_TRUNC);
    const std::string data(1 << 20, 'z');
    CancelScope scope;
    scope.cancel();
    co_await scope.run([&]() -> Task<> { (void)co_await file->write_all_at(data, 0); }());
    EXPECT_TRUE(scope.cancelled_caught());
    // Either nothing was written (cancelled before it started) or whole chunks were.
    const int64_t size = file->size().value_or(-1);
    EXPECT_TRUE(size == 0 || size % 4096 == 0) << size;
  };
  run_here(body());
}

GIAMBIO_ON_EVERY_DRIVER(FileTest);

}  // namespace
}  // namespace giambio
