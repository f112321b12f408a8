// The epoll driver's own guarantees, beyond the shared I/O suites (which run on it too):
// descriptors giambio creates are registered once and stay registered until giambio closes them,
// so reads and writes that wait cost no epoll_ctl; a reused descriptor number is registered
// afresh; a readiness wait sees an edge that went by while nobody waited; closing a descriptor
// ends the waits on it.
#include "giambio/epoll/epoll_driver.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "giambio/giambio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::testing::HasSubstr;

// Runs `body` on a fresh epoll driver; `driver` points at it while the loop runs.
template <typename T>
T run_on_epoll(EpollDriver*& driver, Task<T> body) {
  auto owned = std::make_unique<EpollDriver>();
  driver = owned.get();
  RunOptions options;
  options.custom_driver = std::move(owned);
  return run(std::move(body), std::move(options));
}

// wait_readable as a task, for with_timeout.
Task<absl::Status> wait_for_readable(int fd) { co_return co_await wait_readable(fd); }

// `rounds` one-byte round trips between `a` and `b`, each side in its own task.
Task<int> ping_pong(SocketStream& a, SocketStream& b, int rounds) {
  int completed = 0;
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {
      for (int i = 0; i < rounds; ++i) {
        absl::StatusOr<std::string> got = co_await b.read_some(1);
        if (!got.ok() || got->empty() || !(co_await b.write_all(*got)).ok()) co_return;
      }
    });
    for (int i = 0; i < rounds; ++i) {
      if (!(co_await a.write_all("p")).ok()) co_return;
      if ((co_await a.read_some(1)).value_or("") != "p") co_return;
      ++completed;
    }
  });
  co_return completed;
}

TEST(EpollDriverTest, WaitsOnItsOwnSocketsMakeNoEpollCtl) {
  constexpr int kRounds = 1000;
  EpollDriver* driver = nullptr;
  auto body = [&]() -> Task<uint64_t> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    absl::StatusOr<SocketStream> client = co_await SocketStream::connect(listener->local_address());
    absl::StatusOr<SocketStream> server = co_await listener->accept();
    if (!client.ok() || !server.ok()) co_return 0;
    const uint64_t before = driver->interest_changes();
    const int completed = co_await ping_pong(*client, *server, kRounds);
    EXPECT_EQ(completed, kRounds);
    co_return driver->interest_changes() - before;
  };
  // Each of the two connected sockets is registered once, at its first wait (registering them
  // per wait, as before, made 4 calls per round trip).
  EXPECT_LE(run_on_epoll(driver, body()), 2u);
}

TEST(EpollDriverTest, AReusedDescriptorNumberIsRegisteredAfresh) {
  EpollDriver* driver = nullptr;
  auto body = [&]() -> Task<std::vector<int>> {
    std::vector<int> numbers;
    for (int round = 0; round < 3; ++round) {
      absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
      if (!pair.ok()) co_return numbers;
      numbers.push_back(pair->first.fd());
      // Without the close hook the driver would think the new descriptor registered, and the
      // first wait on it would never end.
      absl::StatusOr<int> completed =
          co_await with_timeout(absl::Seconds(5), ping_pong(pair->first, pair->second, 3));
      EXPECT_EQ(completed.value_or(-1), 3) << completed.status();
      EXPECT_TRUE(pair->first.close().ok());
      EXPECT_TRUE(pair->second.close().ok());
    }
    co_return numbers;
  };
  const std::vector<int> numbers = run_on_epoll(driver, body());
  ASSERT_EQ(numbers.size(), 3u);
  EXPECT_EQ(numbers[0], numbers[1]) << "the kernel did not reuse the number: nothing was tested";
  EXPECT_EQ(numbers[1], numbers[2]);
}

TEST(EpollDriverTest, ReadinessWaitSeesAnEdgeThatWentBy) {
  EpollDriver* driver = nullptr;
  auto body = [&]() -> Task<absl::Status> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    if (!pair.ok()) co_return pair.status();
    auto& [a, b] = *pair;
    // Register `a` and drain it: a read that has to wait.
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { EXPECT_EQ((co_await a.read_some(10)).value_or(""), "ab"); });
      co_await sleep(absl::Milliseconds(5));
      EXPECT_TRUE((co_await b.write_all("ab")).ok());
    });
    // The next edge arrives while nobody waits on `a`; the loop polls and drops it.
    EXPECT_TRUE((co_await b.write_all("c")).ok());
    co_await sleep(absl::Milliseconds(20));
    co_return co_await with_timeout(absl::Seconds(5), wait_for_readable(a.fd()));
  };
  EXPECT_TRUE(run_on_epoll(driver, body()).ok());
}

TEST(EpollDriverTest, ClosingADescriptorEndsTheWaitsOnIt) {
  EpollDriver* driver = nullptr;
  auto body = [&]() -> Task<absl::Status> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    if (!pair.ok()) co_return pair.status();
    absl::Status waited;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        waited = co_await with_timeout(absl::Seconds(5), wait_for_readable(pair->first.fd()));
      });
      co_await sleep(absl::Milliseconds(5));
      EXPECT_TRUE(pair->first.close().ok());
    });
    co_return waited;
  };
  const absl::Status waited = run_on_epoll(driver, body());
  EXPECT_THAT(waited.ToString(), HasSubstr("Bad file descriptor"));
}

}  // namespace
}  // namespace giambio
