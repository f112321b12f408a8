// The io_uring driver's own guarantees, beyond the shared I/O suites: a tiny ring under heavy
// load loses no completion (work beyond the completion queue's capacity waits in the backlog),
// and the setup it negotiated is reported.
#include "giambio/uring/uring_driver.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

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
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    int echoed = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        (void)co_await serve_tcp(*listener, [](SocketStream stream) -> Task<> {
          absl::StatusOr<std::string> got = co_await stream.read_some(100);
          if (got.ok()) (void)co_await stream.write_all(*got);
        });
      });
      co_await with_pool([&](Pool& clients) -> Task<> {
        for (int i = 0; i < kClients; ++i) {
          clients.spawn([&, i]() -> Task<> {
            absl::StatusOr<SocketStream> stream =
                co_await SocketStream::connect(listener->local_address());
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

// MSG_RING: one ring rings another's doorbell (the loops' inboxes use it between io_uring
// loops); a ring that fails in the kernel (here: the doorbell is no ring) writes the fallback
// eventfd instead, so the wake-up is not lost.
TEST(UringDriverTest, ADoorbellRungFromAnotherRingWakesItsPollOrItsFallback) {
  absl::StatusOr<std::unique_ptr<UringDriver>> a = UringDriver::create();
  absl::StatusOr<std::unique_ptr<UringDriver>> b = UringDriver::create();
  if (!a.ok() || !b.ok()) GTEST_SKIP() << "io_uring is unavailable here";
  int rang = 0;
  const int doorbell = (*b)->open_doorbell([&rang] { ++rang; });
  if (doorbell < 0) GTEST_SKIP() << "the kernel has no MSG_RING (or no CQE_SKIP)";
  const int fallback = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(fallback, 0);
  uint64_t count = 0;

  ASSERT_TRUE((*a)->ring_doorbell(doorbell, fallback));
  EXPECT_EQ(rang, 0);
  (*a)->poll(absl::InfinitePast());             // sends it
  (*b)->poll((*b)->now() + absl::Seconds(10));  // woken by it, not by the deadline
  EXPECT_EQ(rang, 1);
  EXPECT_LT(read(fallback, &count, sizeof(count)), 0);  // the fallback stayed quiet

  ASSERT_TRUE((*a)->ring_doorbell(fallback, fallback));  // an eventfd is no ring: it fails
  (*a)->poll((*a)->now() + absl::Seconds(10));           // its failure comes back here
  EXPECT_EQ(read(fallback, &count, sizeof(count)), 8);
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(rang, 1);
  close(fallback);
  close(doorbell);
}

// Between two io_uring loops, a submit_to and its answer each ring the other loop's doorbell
// (no eventfd write).
TEST(UringDriverTest, LoopsOnIoUringWakeEachOtherThroughTheirDoorbells) {
  absl::StatusOr<std::unique_ptr<UringDriver>> probe = UringDriver::create();
  if (!probe.ok()) GTEST_SKIP() << "io_uring is unavailable here: " << probe.status();
  const int doorbell = (*probe)->open_doorbell([] {});
  if (doorbell < 0) GTEST_SKIP() << "the kernel has no MSG_RING";
  close(doorbell);
  std::vector<uint64_t> rung(2, 0);
  LoopsOptions options;
  options.driver = DriverKind::kUring;
  auto rung_here = []() -> Task<uint64_t> {
    auto* driver = dynamic_cast<UringDriver*>(&Loop::current("test").driver());
    co_return driver == nullptr ? 0 : driver->doorbells_rung();
  };
  run_loops(options, [&](const LoopGroup& group, size_t i) -> Task<> {
    if (i != 0) co_return;
    for (int n = 0; n < 100; ++n) {
      co_await submit_to(group[1], []() -> Task<> { co_return; });
    }
    rung[1] = co_await submit_to(group[1], rung_here);
    rung[0] = co_await rung_here();
  });
  EXPECT_GE(rung[0], 100u);
  EXPECT_GE(rung[1], 100u);
}

TEST(UringDriverTest, ReportsItsSetup) {
  absl::StatusOr<std::unique_ptr<UringDriver>> driver = UringDriver::create();
  if (!driver.ok()) GTEST_SKIP() << "io_uring is unavailable here: " << driver.status();
  EXPECT_STREQ((*driver)->name(), "io_uring");
  EXPECT_EQ((*driver)->pending(), 0u);
}

// Where the kernel has it (6.1+), the ring defers its task work (DEFER_TASKRUN, which needs
// SINGLE_ISSUER): completions are posted only when the loop asks.
TEST(UringDriverTest, DefersTaskRunWhereTheKernelCan) {
  absl::StatusOr<std::unique_ptr<UringDriver>> driver = UringDriver::create();
  if (!driver.ok()) GTEST_SKIP() << "io_uring is unavailable here: " << driver.status();
  const unsigned flags = (*driver)->setup_flags();
  if (!(flags & IORING_SETUP_DEFER_TASKRUN)) GTEST_SKIP() << "this kernel refused DEFER_TASKRUN";
  EXPECT_TRUE(flags & IORING_SETUP_SINGLE_ISSUER);
  EXPECT_TRUE(flags & IORING_SETUP_TASKRUN_FLAG);  // what a turn that does not wait looks at
}

// A task that never blocks keeps the loop from waiting; I/O must still complete (with deferred
// task run, the loop's non-waiting turns must ask for completions too).
TEST(UringDriverTest, CompletionsArriveWhileAnotherTaskKeepsTheLoopBusy) {
  absl::StatusOr<std::unique_ptr<UringDriver>> driver = UringDriver::create();
  if (!driver.ok()) GTEST_SKIP() << "io_uring is unavailable here: " << driver.status();
  constexpr int kMaxTurns = 1'000'000;
  int turns = 0;
  auto body = [&]() -> Task<std::string> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    if (!pair.ok()) co_return "socket_pair failed";
    bool done = false;
    std::string got;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        while (!done && turns < kMaxTurns) {
          ++turns;
          co_await checkpoint();
        }
      });
      pool.spawn([&]() -> Task<> {
        absl::StatusOr<std::string> read = co_await pair->second.read_some(100);
        got = read.value_or("");
        done = true;
      });
      // The receive is in the kernel, waiting, before the bytes come: its completion is task
      // work, not an inline one.
      for (int i = 0; i < 10; ++i) co_await checkpoint();
      absl::Status written = co_await pair->first.write_all("ping");
      EXPECT_TRUE(written.ok()) << written;
    });
    co_return got;
  };
  RunOptions options;
  options.custom_driver = *std::move(driver);
  EXPECT_EQ(run(body(), std::move(options)), "ping");
  EXPECT_LT(turns, kMaxTurns);
}

// Descriptors giambio makes are registered in the ring's table while open; a number reused after
// a close reaches the new socket, not the old file.
TEST(UringDriverTest, RegisteredDescriptorsFollowOpenAndClose) {
  absl::StatusOr<std::unique_ptr<UringDriver>> created = UringDriver::create();
  if (!created.ok()) GTEST_SKIP() << "io_uring is unavailable here: " << created.status();
  if ((*created)->fixed_table_size() == 0) GTEST_SKIP() << "no table of registered files here";
  UringDriver* driver = created->get();
  auto body = [&]() -> Task<std::string> {
    const size_t before = driver->fixed_files();
    absl::StatusOr<std::pair<SocketStream, SocketStream>> first = socket_pair();
    if (!first.ok()) co_return "socket_pair failed";
    EXPECT_EQ(driver->fixed_files(), before + 2);
    const int number = first->first.fd();
    EXPECT_TRUE(first->first.close().ok());
    EXPECT_TRUE(first->second.close().ok());
    EXPECT_EQ(driver->fixed_files(), before);
    absl::StatusOr<std::pair<SocketStream, SocketStream>> second = socket_pair();
    if (!second.ok()) co_return "socket_pair failed";
    EXPECT_EQ(second->first.fd(), number);  // the lowest free number: the same one
    EXPECT_TRUE((co_await second->first.write_all("new")).ok());
    absl::StatusOr<std::string> got =
        co_await with_timeout(absl::Seconds(5), second->second.read_some(16));
    co_return got.ok() ? *got : got.status().ToString();
  };
  RunOptions options;
  options.custom_driver = *std::move(created);
  EXPECT_EQ(run(body(), std::move(options)), "new");
}

// Accept on both of the driver's paths: multishot (the default) and plain.
class UringAcceptTest : public ::testing::TestWithParam<bool> {
 protected:
  // Runs `body` on a fresh io_uring driver in this test's accept mode.
  template <typename T>
  T run_here(Task<T> body) {
    absl::StatusOr<std::unique_ptr<UringDriver>> driver =
        UringDriver::create(UringDriver::kEntries, /*multishot_accept=*/GetParam());
    if (!driver.ok()) {
      ADD_FAILURE() << "io_uring is unavailable here: " << driver.status();
      return T();
    }
    RunOptions options;
    options.custom_driver = *std::move(driver);
    return run(std::move(body), std::move(options));
  }
  void SetUp() override {
    if (!UringDriver::create().ok()) GTEST_SKIP() << "io_uring is unavailable here";
  }
};

// Connects `count` clients (the kernel completes a connect before any accept).
Task<std::vector<SocketStream>> connect_clients(SocketAddress address, int count) {
  std::vector<SocketStream> clients;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<SocketStream> client = co_await SocketStream::connect(address);
    EXPECT_TRUE(client.ok()) << client.status();
    if (client.ok()) clients.push_back(*std::move(client));
  }
  co_return clients;
}

TEST_P(UringAcceptTest, ConnectionsQueuedBeforeAndBeyondTheQueueAreAllAccepted) {
  // More clients than the driver's own queue holds: the rest wait in the kernel's backlog.
  constexpr int kClients = static_cast<int>(UringDriver::kAcceptedMax) + 40;
  bool multishot = false;
  uint64_t multishot_accepted = 0;
  const int accepted = run_here([&]() -> Task<int> {
    ListenOptions options;
    options.backlog = 512;
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0), options);
    // One client first, so the multishot request is armed while the others arrive.
    std::vector<SocketStream> first = co_await connect_clients(listener->local_address(), 1);
    EXPECT_TRUE((co_await listener->accept()).ok());
    std::vector<SocketStream> clients =
        co_await connect_clients(listener->local_address(), kClients);
    co_await sleep(absl::Milliseconds(50));  // let the armed request fill its queue
    int count = 0;
    for (size_t i = 0; i < clients.size(); ++i) {
      absl::StatusOr<SocketStream> server =
          (co_await with_timeout(absl::Seconds(10), listener->accept()));
      EXPECT_TRUE(server.ok()) << server.status();
      if (!server.ok()) break;
      ++count;
    }
    // The driver lives as long as the loop: read its figures here.
    auto& driver = static_cast<UringDriver&>(Loop::current("test").driver());
    multishot = driver.multishot_accept();
    multishot_accepted = driver.multishot_accepted();
    co_return count;
  }());
  EXPECT_EQ(accepted, kClients);
  if (GetParam()) {
    EXPECT_TRUE(multishot) << "this kernel (6.x) has multishot accept";
    EXPECT_GE(multishot_accepted, static_cast<uint64_t>(kClients));
  } else {
    EXPECT_EQ(multishot_accepted, 0u);
  }
}

TEST_P(UringAcceptTest, ACancelledAcceptLosesNoConnection) {
  const std::string got = run_here([]() -> Task<std::string> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    for (int round = 0; round < 3; ++round) {
      // Nobody connects: the accept times out (is cancelled) ...
      const std::optional<absl::StatusOr<SocketStream>> idle =
          co_await skip_after(absl::Milliseconds(5), listener->accept());
      EXPECT_FALSE(idle.has_value());
    }
    // ... and the connection that comes next goes to the next accept.
    std::vector<SocketStream> clients = co_await connect_clients(listener->local_address(), 1);
    EXPECT_TRUE((co_await clients[0].write_all("late")).ok());
    absl::StatusOr<SocketStream> server =
        co_await with_timeout(absl::Seconds(10), listener->accept());
    if (!server.ok()) co_return server.status().ToString();
    co_return (co_await server->read_some(16)).value_or("read failed");
  }());
  EXPECT_EQ(got, "late");
}

// An accepted connection is registered when it is handed out, on both accept paths.
TEST_P(UringAcceptTest, AnAcceptedConnectionIsRegistered) {
  absl::StatusOr<std::unique_ptr<UringDriver>> created =
      UringDriver::create(UringDriver::kEntries, /*multishot_accept=*/GetParam());
  ASSERT_TRUE(created.ok()) << created.status();
  if ((*created)->fixed_table_size() == 0) GTEST_SKIP() << "no table of registered files here";
  UringDriver* driver = created->get();
  auto body = [&]() -> Task<size_t> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    std::vector<SocketStream> clients = co_await connect_clients(listener->local_address(), 1);
    const size_t before = driver->fixed_files();
    absl::StatusOr<SocketStream> server = co_await listener->accept();
    EXPECT_TRUE(server.ok()) << server.status();
    co_return driver->fixed_files() - before;
  };
  RunOptions options;
  options.custom_driver = *std::move(created);
  EXPECT_EQ(run(body(), std::move(options)), 1u);
}

TEST_P(UringAcceptTest, ClosingAListenerFreesItsPortAndClosesQueuedConnections) {
  const bool ok = run_here([]() -> Task<bool> {
    // SO_REUSEADDR (the default) lets the port be bound again despite the connections on it,
    // but never while a listening socket is still alive there.
    ListenOptions options;
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0), options);
    const SocketAddress address = listener->local_address();
    std::vector<SocketStream> first = co_await connect_clients(address, 1);
    EXPECT_TRUE((co_await listener->accept()).ok());
    std::vector<SocketStream> queued = co_await connect_clients(address, 1);
    co_await sleep(absl::Milliseconds(20));  // accepted into the driver's queue (multishot)
    EXPECT_TRUE(listener->close().ok());
    // The port is free at once: no request still holds the old socket.
    absl::StatusOr<SocketListener> again = SocketListener::listen(address, options);
    EXPECT_TRUE(again.ok()) << again.status();
    // The queued connection was closed: its client reads end of stream or a reset.
    absl::StatusOr<std::string> end =
        co_await with_timeout(absl::Seconds(10), queued[0].read_some(16));
    EXPECT_TRUE(!end.ok() ? !absl::IsDeadlineExceeded(end.status()) : end->empty())
        << (end.ok() ? *end : end.status().ToString());
    co_return again.ok();
  }());
  EXPECT_TRUE(ok);
}

// A multishot accept the kernel refuses with EINVAL means one of two things: a kernel without
// multishot accept (before 5.19: the driver then accepts plainly from there on) or a socket that
// is not listening (the accept's own error). Only the first may switch multishot off, or one bad
// socket would cost every later listener of the loop its multishot accepts.
TEST_P(UringAcceptTest, AnAcceptOnASocketThatIsNotListeningFailsAndKeepsTheAcceptMode) {
  absl::StatusOr<std::unique_ptr<UringDriver>> created =
      UringDriver::create(UringDriver::kEntries, /*multishot_accept=*/GetParam());
  ASSERT_TRUE(created.ok()) << created.status();
  UringDriver& driver = **created;
  struct Accept final : Operation {
    explicit Accept(int fd) : Operation(OpKind::kAccept, fd) {}
    void complete(int64_t value) override { result = value; }
    std::optional<int64_t> result;
  };
  const int fd = driver.socket(AF_INET, SOCK_STREAM);
  ASSERT_GE(fd, 0);
  const SocketAddress any = *SocketAddress::parse("127.0.0.1", 0);
  ASSERT_EQ(driver.bind(fd, any.get(), any.length()), 0);  // bound, never listening
  for (int round = 0; round < 2; ++round) {  // the second finds the first's state settled
    Accept accept(fd);
    driver.submit(accept);
    const absl::Time deadline = driver.now() + absl::Seconds(10);
    while (!accept.result && driver.now() < deadline) driver.poll(driver.now() + absl::Seconds(1));
    EXPECT_EQ(accept.result, -EINVAL) << "round " << round;
  }
  EXPECT_EQ(driver.multishot_accept(), GetParam());
  EXPECT_EQ(driver.close(fd), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, UringAcceptTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Multishot" : "Plain";
                         });

}  // namespace
}  // namespace giambio
