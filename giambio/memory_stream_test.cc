#include "giambio/memory_stream.h"

#include <string>
#include <vector>

#include "giambio/cancel_scope.h"
#include "giambio/pool.h"
#include "giambio/test_util.h"
#include "giambio/time.h"
#include "giambio/timeouts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::giambio::testing::elapsed;
using ::giambio::testing::run_virtual;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(MemoryStreamTest, BytesFlowBothWaysAndEofAfterTheData) {
  auto body = []() -> Task<> {
    auto [a, b] = memory_stream_pair();
    EXPECT_TRUE((co_await a.write_all("ping")).ok());
    EXPECT_TRUE(a.send_eof().ok());
    EXPECT_EQ((co_await b.read_some(16)).value_or("?"), "ping");
    EXPECT_EQ((co_await b.read_some(16)).value_or("?"), "") << "end of stream";
    EXPECT_TRUE((co_await b.write_all("pong")).ok()) << "the other direction still works";
    EXPECT_EQ((co_await a.read_some(16)).value_or("?"), "pong");
  };
  run_virtual(body());
}

TEST(MemoryStreamTest, MaxReadSplitsWhatWasWritten) {
  auto body = []() -> Task<std::vector<std::string>> {
    auto [a, b] = memory_stream_pair({.max_read = 3});
    EXPECT_TRUE((co_await a.write_all("abcdefg")).ok());
    std::vector<std::string> pieces;
    for (int i = 0; i < 3; ++i) pieces.push_back((co_await b.read_some(16)).value_or("?"));
    co_return pieces;
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre("abc", "def", "g"));
}

// A full buffer holds the writer; cancelled, it says how much went in, and the reader gets
// exactly that.
TEST(MemoryStreamTest, AFullBufferHoldsTheWriterAndACancelledWriteSaysHowMuch) {
  auto body = []() -> Task<> {
    auto [a, b] = memory_stream_pair({.capacity = 10});
    size_t written = 0;
    std::optional<absl::Status> done =
        co_await skip_after(absl::Seconds(1), a.write_all(std::string(25, 'x'), &written));
    EXPECT_FALSE(done.has_value());
    EXPECT_EQ(written, 10u);
    EXPECT_EQ(elapsed(), absl::Seconds(1));
    EXPECT_EQ((co_await b.read_some(100)).value_or("?"), std::string(10, 'x'));
  };
  run_virtual(body());
}

TEST(MemoryStreamTest, ACancelledReadConsumesNothing) {
  auto body = []() -> Task<> {
    auto [a, b] = memory_stream_pair();
    std::optional<absl::StatusOr<std::string>> got =
        co_await skip_after(absl::Seconds(1), b.read_some(16));
    EXPECT_FALSE(got.has_value());
    EXPECT_TRUE((co_await a.write_all("kept")).ok());
    EXPECT_EQ((co_await b.read_some(16)).value_or("?"), "kept");
  };
  run_virtual(body());
}

TEST(MemoryStreamTest, ClosingWakesThePeerAndUsingAClosedEndIsFailedPrecondition) {
  auto body = []() -> Task<> {
    auto [a, b] = memory_stream_pair({.capacity = 1});
    absl::Status peer_write;
    absl::StatusOr<std::string> peer_read = std::string("unset");
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { peer_write = co_await b.write_all("too much"); });
      pool.spawn([&]() -> Task<> { peer_read = co_await b.read_some(16); });
      co_await sleep(absl::Seconds(1));
      EXPECT_TRUE(a.close().ok());
    });
    EXPECT_THAT(std::string(peer_write.message()), HasSubstr("the peer closed"));
    EXPECT_EQ(peer_read.value_or("?"), "") << "end of stream";
    EXPECT_TRUE(absl::IsFailedPrecondition(a.close()));
    EXPECT_TRUE(absl::IsFailedPrecondition((co_await a.read_some(1)).status()));
    EXPECT_TRUE(absl::IsFailedPrecondition(co_await a.write_all("x")));
  };
  run_virtual(body());
}

TEST(MemoryStreamTest, BadOptionsAreAUsageError) {
  EXPECT_THROW(memory_stream_pair({.capacity = 0}), UsageError);
  EXPECT_THROW(memory_stream_pair({.max_read = 0}), UsageError);
}

}  // namespace
}  // namespace giambio
