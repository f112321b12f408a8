// The epoll driver's own guarantees, beyond the shared I/O suites (which run on it too):
// descriptors giambio creates are registered once and stay registered until giambio closes them,
// so reads and writes that wait cost no epoll_ctl; a reused descriptor number is registered
// afresh; a readiness wait sees an edge that went by while nobody waited; closing a descriptor
// ends the waits on it.
#include "giambio/epoll/epoll_driver.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "giambio/drivers_test_util.h"
#include "giambio/giambio.h"
#include "giambio/internal/file_holders.h"
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
template <typename Stream>
Task<int> ping_pong(Stream& a, Stream& b, int rounds) {
  int completed = 0;
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {
      for (int i = 0; i < rounds; ++i) {
        absl::StatusOr<std::string> got = co_await b.read_some(1);
        if (!got.ok() || got->empty()) co_return;
        absl::Status back = co_await b.write_all(*got);
        if (!back.ok()) co_return;
      }
    });
    for (int i = 0; i < rounds; ++i) {
      absl::Status sent = co_await a.write_all("p");
      if (!sent.ok()) co_return;
      absl::StatusOr<std::string> got = co_await a.read_some(1);
      if (got.value_or("") != "p") co_return;
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

// The same for descriptors numbered in a later chunk of the holder registry
// (internal/file_holders.h), made when they are first held: they stay owned (registered once).
// (When the registry stopped at 16,384, numbers above it were taken for stale on every wait.)
TEST(EpollDriverTest, HighDescriptorsStayRegistered) {
  constexpr int kRounds = 100;
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  if (!testing::renumber_pair(fds, 4 * static_cast<int>(internal::kHolderChunk) + 600)) {
    GTEST_SKIP() << "the descriptor limit is too low";
  }
  EpollDriver* driver = nullptr;
  auto body = [&]() -> Task<uint64_t> {
    AsyncStream a(fds[0]);
    AsyncStream b(fds[1]);
    const uint64_t before = driver->interest_changes();
    const int completed = co_await ping_pong(a, b, kRounds);
    EXPECT_EQ(completed, kRounds);
    co_return driver->interest_changes() - before;
  };
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

// read_some as a task, for with_timeout ("" at the end of the stream or on an error).
Task<std::string> read_text(SocketStream& stream, int64_t max) {
  absl::StatusOr<std::string> data = co_await stream.read_some(max);
  co_return data.value_or("");
}

// A read that came back short emptied the socket: the next read waits for the next edge without
// a recv that would only say EAGAIN, and still gets what comes.
// `b` writes 10 bytes, `a` reads them asking for 100 (short: `a` is empty now), then `a` reads
// again while `b` writes 3 more. Returns how many reads waited without a syscall in between.
Task<uint64_t> reads_skipped_after_a_short_read(EpollDriver* driver, SocketStream& a,
                                                SocketStream& b) {
  const std::string first = "0123456789";
  EXPECT_TRUE((co_await b.write_all(first)).ok());
  co_await sleep(absl::Milliseconds(5));  // the loop polls: the edge goes by
  const std::string got_first = co_await read_text(a, 100);
  EXPECT_EQ(got_first, first);
  const uint64_t before = driver->reads_skipped();
  std::string got;
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> { got = co_await read_text(a, 100); });
    co_await sleep(absl::Milliseconds(5));
    const std::string more = "abc";
    EXPECT_TRUE((co_await b.write_all(more)).ok());
  });
  EXPECT_EQ(got, "abc");
  co_return driver->reads_skipped() - before;
}

TEST(EpollDriverTest, AReadAfterAShortReadWaitsForTheNextEdgeWithoutASyscall) {
  EpollDriver* driver = nullptr;
  auto body = [&]() -> Task<uint64_t> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    if (!pair.ok()) co_return 0;
    co_return co_await reads_skipped_after_a_short_read(driver, pair->first, pair->second);
  };
  EXPECT_EQ(run_on_epoll(driver, body()), 1u);
}

// An accepted TCP connection is a byte stream like its listener: a server's read after a short
// one skips its syscall too (what makes echo one recv per message).
TEST(EpollDriverTest, AnAcceptedConnectionSkipsTheReadAfterAShortOne) {
  EpollDriver* driver = nullptr;
  auto body = [&]() -> Task<uint64_t> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    if (!listener.ok()) co_return 0;
    absl::StatusOr<SocketStream> client = co_await SocketStream::connect(listener->local_address());
    absl::StatusOr<SocketStream> server = co_await listener->accept();
    if (!client.ok() || !server.ok()) co_return 0;
    co_return co_await reads_skipped_after_a_short_read(driver, *server, *client);
  };
  EXPECT_EQ(run_on_epoll(driver, body()), 1u);
}

// The peer wrote and hung up before the first read, and the loop saw both edges go by: after the
// short read no edge will come, yet the next read still finds the end of the stream.
TEST(EpollDriverTest, TheEndOfAStreamAfterAShortReadIsNotMissed) {
  EpollDriver* driver = nullptr;
  auto body = [&]() -> Task<absl::StatusOr<std::string>> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    if (!pair.ok()) co_return pair.status();
    SocketStream& a = pair->first;
    SocketStream& b = pair->second;
    // A read that has to wait registers `a` with epoll.
    std::string waited;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { waited = co_await read_text(a, 1); });
      co_await sleep(absl::Milliseconds(5));
      const std::string one = "x";
      EXPECT_TRUE((co_await b.write_all(one)).ok());
    });
    EXPECT_EQ(waited, "x");
    const std::string last = "0123456789";
    EXPECT_TRUE((co_await b.write_all(last)).ok());
    EXPECT_TRUE(b.close().ok());
    co_await sleep(absl::Milliseconds(5));  // the loop polls: the data's and hang-up's edges go by
    const std::string got = co_await read_text(a, 100);
    EXPECT_EQ(got, last);  // short
    co_return co_await with_timeout(absl::Seconds(5), read_text(a, 100));
  };
  const absl::StatusOr<std::string> end = run_on_epoll(driver, body());
  ASSERT_TRUE(end.ok()) << end.status();  // not a timeout
  EXPECT_EQ(*end, "");
}

// An AsyncStream's read_some as a task, for with_timeout ("" at the end or on an error).
Task<std::string> read_text(AsyncStream& stream, int64_t max) {
  absl::StatusOr<std::string> data = co_await stream.read_some(max);
  co_return data.value_or("");
}

// A short read on a seqpacket socket adopted into an AsyncStream returns one record and leaves
// the next: the next read must try its syscall, not wait for an edge that already went by.
TEST(EpollDriverTest, AShortReadOfOneRecordDoesNotSkipTheNextRead) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  EpollDriver* driver = nullptr;
  uint64_t skipped = 0;
  auto body = [&]() -> Task<absl::StatusOr<std::string>> {
    AsyncStream reader(fds[0]);
    AsyncStream writer(fds[1]);
    // A read that has to wait registers `reader` with epoll (registering reports the present
    // state, so without it a read that wrongly waited would still be woken).
    std::string waited;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { waited = co_await read_text(reader, 100); });
      co_await sleep(absl::Milliseconds(5));
      EXPECT_TRUE((co_await writer.write_all("x")).ok());
    });
    EXPECT_EQ(waited, "x");
    EXPECT_TRUE((co_await writer.write_all("abc")).ok());
    EXPECT_TRUE((co_await writer.write_all("defgh")).ok());
    co_await sleep(absl::Milliseconds(5));  // the loop polls: the edges go by
    const std::string first = co_await read_text(reader, 100);
    EXPECT_EQ(first, "abc");  // one record, short of the 100 asked for
    const uint64_t before = driver->reads_skipped();
    absl::StatusOr<std::string> second =
        co_await with_timeout(absl::Seconds(5), read_text(reader, 100));
    skipped = driver->reads_skipped() - before;
    co_return second;
  };
  const absl::StatusOr<std::string> second = run_on_epoll(driver, body());
  ASSERT_TRUE(second.ok()) << second.status();  // not a timeout
  EXPECT_EQ(*second, "defgh");
  EXPECT_EQ(skipped, 0u);
}

// An adopted pipe is a byte stream: both writes arrive as one, and after the short read that
// takes them the next read waits for the next edge without a syscall.
TEST(EpollDriverTest, AnAdoptedPipeSkipsTheReadAfterAShortOne) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  EpollDriver* driver = nullptr;
  auto body = [&]() -> Task<std::string> {
    AsyncStream reader(fds[0]);
    AsyncStream writer(fds[1]);
    EXPECT_TRUE((co_await writer.write_all("abc")).ok());
    co_await sleep(absl::Milliseconds(5));
    const std::string first = co_await read_text(reader, 100);
    EXPECT_EQ(first, "abc");
    const uint64_t before = driver->reads_skipped();
    std::string got;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { got = co_await read_text(reader, 100); });
      co_await sleep(absl::Milliseconds(5));
      EXPECT_TRUE((co_await writer.write_all("de")).ok());
    });
    EXPECT_EQ(driver->reads_skipped() - before, 1u);
    co_return got;
  };
  EXPECT_EQ(run_on_epoll(driver, body()), "de");
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
