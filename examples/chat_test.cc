#include "examples/chat.h"

#include <string>

#include "giambio/drivers_test_util.h"
#include "giambio/giambio.h"
#include "gtest/gtest.h"

namespace giambio::examples {
namespace {

class ChatRoomTest : public testing::OnEveryDriver {};

TEST(ChatRoomBadInputTest, ABacklogBelowOneIsAUsageErrorNamingTheValue) {
  ChatOptions options;
  options.backlog_lines = 0;
  try {
    ChatRoom room(options);
    ADD_FAILURE() << "accepted backlog_lines=0";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "ChatRoom: backlog_lines=0: must be at least 1");
  }
}

// A member that stops reading is disconnected once its backlog overflows, even though its
// writer is stuck on a full socket; the others go on talking.
TEST_P(ChatRoomTest, AClientThatStopsReadingIsDisconnected) {
  auto body = []() -> Task<std::string> {
    ChatOptions options;
    options.backlog_lines = 4;
    ChatRoom room(options);
    absl::StatusOr<std::pair<SocketStream, SocketStream>> silent = socket_pair();
    absl::StatusOr<std::pair<SocketStream, SocketStream>> talker = socket_pair();
    absl::StatusOr<std::pair<SocketStream, SocketStream>> listener = socket_pair();
    std::string heard;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&] { return room.handle(std::move(silent->second)); });
      pool.spawn([&] { return room.handle(std::move(talker->second)); });
      pool.spawn([&] { return room.handle(std::move(listener->second)); });
      co_await sleep(absl::Milliseconds(10));  // all three have joined
      pool.spawn([&]() -> Task<> {             // the listener keeps reading
        while (true) {
          absl::StatusOr<std::string> got = co_await listener->first.read_some(1 << 16);
          if (!got.ok() || got->empty()) break;
          heard += *got;
        }
      });
      const std::string line(1000, 'x');
      for (int i = 0; i < 2000 && room.members() == 3; ++i) {  // ~2 MB: more than a socket holds
        absl::Status sent = co_await talker->first.write_all(line + "\n");
        if (!sent.ok()) break;
        co_await sleep(absl::Microseconds(50));
      }
      EXPECT_EQ(room.members(), 2u) << "the silent member was never disconnected";
      (void)talker->first.close();
      co_await sleep(absl::Milliseconds(50));
      (void)listener->first.close();
      (void)silent->first.close();  // ends a writer that is still stuck, if the test fails
    });
    co_return heard.substr(0, 3);
  };
  EXPECT_EQ(run_here(body()), "xxx");
}

GIAMBIO_ON_EVERY_DRIVER(ChatRoomTest);

}  // namespace
}  // namespace giambio::examples
