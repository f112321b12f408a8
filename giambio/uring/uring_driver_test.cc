// The io_uring driver's own guarantees, beyond the shared I/O suites: a tiny ring under heavy
// load loses no completion (work beyond the completion queue's capacity waits in the backlog),
// and the setup it negotiated is reported.
#include "giambio/uring/uring_driver.h"

#include <string>

#include "giambio/giambio.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

TEST(UringDriverTest, TinyRingUnderLoadLosesNoCompletion) {
  absl::StatusOr<std::unique_ptr<UringDriver>> driver = UringDriver::create(/*entries=*/8);
  if (!driver.ok()) GTEST_SKIP() << "io_uring is unavailable here: " << driver.status();
  RunOptions options;
  options.custom_driver = *std::move(driver);
  constexpr int kClients = 200;
  auto body = []() -> Task<int> {
    absl::StatusOr<TcpListener> listener =
        TcpListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    int echoed = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        (void)co_await serve_tcp(*listener, [](TcpStream stream) -> Task<> {
          absl::StatusOr<std::string> got = co_await stream.read_some(100);
          if (got.ok()) (void)co_await stream.write_all(*got);
        });
      });
      co_await with_pool([&](Pool& clients) -> Task<> {
        for (int i = 0; i < kClients; ++i) {
          clients.spawn([&, i]() -> Task<> {
            absl::StatusOr<TcpStream> stream =
                co_await TcpStream::connect(listener->local_address());
            if (!stream.ok()) co_return;
            const std::string message = "message " + std::to_string(i);
            (void)co_await stream->write_all(message);
            if ((co_await stream->read_some(100)).value_or("") == message) ++echoed;
          });
        }
        co_return;
      });
      pool.cancel();
    });
    co_return echoed;
  };
  EXPECT_EQ(run(body(), std::move(options)), kClients);
}

TEST(UringDriverTest, ReportsItsSetup) {
  absl::StatusOr<std::unique_ptr<UringDriver>> driver = UringDriver::create();
  if (!driver.ok()) GTEST_SKIP() << "io_uring is unavailable here: " << driver.status();
  EXPECT_STREQ((*driver)->name(), "io_uring");
  EXPECT_EQ((*driver)->pending(), 0u);
}

}  // namespace
}  // namespace giambio
