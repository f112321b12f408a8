// Load on the real drivers (loopback only, bounded in count and time), on io_uring and epoll:
// 10,000 concurrent connections to the echo server example (a separate process, so that each
// side stays within the descriptor limit), 1,000,000 sleeping tasks, a 1,000,000-message
// channel, and a peer that stops reading while another connection goes on being served.
// (Accept under descriptor exhaustion is in serve_test; a tiny ring under load in
// uring_driver_test.) Each test prints its time and the process's peak memory; the figures are
// in docs/benchmarks.md. Under sanitizers the counts are divided by 10 (they are slow and
// memory-hungry there).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "giambio/drivers_test_util.h"
#include "giambio/giambio.h"
#include "gtest/gtest.h"

extern char** environ;

namespace giambio {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kScale = 10;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr int kScale = 10;
#else
constexpr int kScale = 1;
#endif
#else
constexpr int kScale = 1;
#endif

// The process's resident memory now, in MiB (from /proc/self/statm).
long rss_mib() {
  long pages = 0;
  long resident = 0;
  if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(statm);
  }
  return resident * sysconf(_SC_PAGESIZE) / (1024 * 1024);
}

// One "LOAD ..." line: the test, its driver, its wall time, what it did, and the resident
// memory at its busiest moment (`rss`, MiB), measured by the test.
void report(const char* test, const char* driver, absl::Duration took, const std::string& more,
            long rss) {
  std::printf("LOAD %s on %s: %s, %s, RSS at the peak %ld MiB\n", test, driver,
              absl::FormatDuration(took).c_str(), more.c_str(), rss);
}

class LoadTest : public testing::OnEveryDriver {
 protected:
  const char* driver_name() const {
    return GetParam() == DriverKind::kUring ? "io_uring" : "epoll";
  }
  // For GIAMBIO_DRIVER.
  const char* driver_flag() const { return GetParam() == DriverKind::kUring ? "uring" : "epoll"; }
};

// The echo server example as a child process on the same driver; stops it when destroyed.
class EchoServerProcess {
 public:
  explicit EchoServerProcess(const char* driver) {
    const char* srcdir = std::getenv("TEST_SRCDIR");
    const std::string binary = std::string(srcdir ? srcdir : ".") + "/giambio/examples/echo_server";
    int out[2];
    if (pipe(out) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    const std::string driver_env = std::string("GIAMBIO_DRIVER=") + driver;
    std::vector<char*> env;
    for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
    env.push_back(const_cast<char*>(driver_env.c_str()));
    env.push_back(nullptr);
    const char* argv[] = {binary.c_str(), "--port=0", "--quiet", nullptr};
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, const_cast<char**>(argv),
                    env.data()) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    close(out[0]);
    const size_t colon = line.rfind(':');
    if (line.rfind("listening on ", 0) == 0 && colon != std::string::npos) {
      port_ = std::atoi(line.c_str() + colon + 1);
    }
  }
  ~EchoServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST_P(LoadTest, TenThousandConcurrentConnections) {
  const int connections = 10'000 / kScale;
  EchoServerProcess server(driver_flag());
  long rss = 0;
  ASSERT_GT(server.port(), 0) << "the echo server example did not start";
  const absl::Time start = absl::Now();
  auto body = [&]() -> Task<int> {
    const SocketAddress address = *SocketAddress::parse("127.0.0.1", server.port());
    std::vector<SocketStream> streams(connections);
    int echoed = 0;
    // Connect all (at most 100 at a time), keep them all open,
    // then every connection sends and waits for its echo at once.
    Semaphore connecting(100);
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < connections; ++i) {
        co_await connecting.acquire();
        pool.spawn([&, i]() -> Task<> {
          absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(address);
          connecting.release();
          if (stream.ok()) streams[i] = *std::move(stream);
        });
      }
    });
    rss = rss_mib();
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < connections; ++i) {
        pool.spawn([&, i]() -> Task<> {
          const std::string message = "connection " + std::to_string(i);
          if (!streams[i].is_open() || !(co_await streams[i].write_all(message)).ok()) co_return;
          std::string got;
          while (got.size() < message.size()) {
            absl::StatusOr<std::string> part = co_await streams[i].read_some(64);
            if (!part.ok() || part->empty()) co_return;
            got += *part;
          }
          if (got == message) ++echoed;
        });
      }
      co_return;
    });
    co_return echoed;
  };
  const int echoed = run_here(body());
  EXPECT_EQ(echoed, connections);
  report("connections", driver_name(), absl::Now() - start,
         std::to_string(connections) + " connections open at once, each echoed", rss);
}

TEST_P(LoadTest, AMillionSleepingTasks) {
  const int tasks = 1'000'000 / kScale;
  const absl::Time start = absl::Now();
  const long rss_before = rss_mib();
  long rss = 0;
  auto body = [&]() -> Task<int> {
    int woke = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < tasks; ++i) {
        pool.spawn([&woke, i]() -> Task<> {
          co_await sleep(absl::Milliseconds(100 + i % 100));
          ++woke;
        });
      }
      rss = rss_mib();
      co_return;
    });
    co_return woke;
  };
  EXPECT_EQ(run_here(body()), tasks);
  report("sleeping tasks", driver_name(), absl::Now() - start,
         std::to_string(tasks) + " tasks asleep at once (100-199 ms), " +
             std::to_string((rss - rss_before) * 1024 * 1024 / tasks) + " bytes each",
         rss);
}

TEST_P(LoadTest, AMillionMessagesThroughAChannel) {
  const int64_t messages = 1'000'000 / kScale;
  const absl::Time start = absl::Now();
  auto body = [&]() -> Task<int64_t> {
    auto channel = open_memory_channel<int64_t>(64);
    MemoryReceiveChannel<int64_t>& rx = channel.second;
    int64_t in_order = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        MemorySendChannel<int64_t> tx = std::move(channel.first);  // closes when the task ends
        for (int64_t i = 0; i < messages; ++i) {
          if (!(co_await tx.send(i)).ok()) co_return;
        }
      });
      for (int64_t expected = 0;; ++expected) {
        absl::StatusOr<int64_t> got = co_await rx.receive();
        if (!got.ok()) break;  // end of channel
        if (*got == expected) ++in_order;
      }
    });
    co_return in_order;
  };
  EXPECT_EQ(run_here(body()), messages);
  report("channel", driver_name(), absl::Now() - start,
         std::to_string(messages) + " messages in order, buffer 64", rss_mib());
}

// One client writes and never reads: the server's task for it blocks with the socket buffers
// full. Another client's round trips go on regardless.
TEST_P(LoadTest, AStalledReaderDoesNotStallOthers) {
  const absl::Time start = absl::Now();
  auto body = [&]() -> Task<int> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    int round_trips = 0;
    size_t stalled_sent = 0;
    // The clients outlive the pool's body (its locals end before the pool's tasks do).
    absl::StatusOr<SocketStream> stalled;
    absl::StatusOr<SocketStream> live;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        (void)co_await serve_tcp(*listener, [](SocketStream stream) -> Task<> {
          while (true) {
            absl::StatusOr<std::string> got = co_await stream.read_some(65536);
            if (!got.ok() || got->empty()) co_return;
            if (!(co_await stream.write_all(*got)).ok()) co_return;
          }
        });
      });
      stalled = co_await SocketStream::connect(listener->local_address());
      pool.spawn([&]() -> Task<> {
        const std::string chunk(65536, 's');
        while ((co_await stalled->write_all(chunk)).ok()) stalled_sent += chunk.size();
      });
      // Let the stalled connection fill every buffer on the way.
      co_await sleep(absl::Milliseconds(200));
      live = co_await SocketStream::connect(listener->local_address());
      auto pings = [&]() -> Task<> {
        for (int i = 0; i < 1000; ++i) {
          if (!(co_await live->write_all("ping")).ok()) co_return;
          std::string got;
          while (got.size() < 4) {
            absl::StatusOr<std::string> part = co_await live->read_some(4 - got.size());
            if (!part.ok() || part->empty()) co_return;
            got += *part;
          }
          ++round_trips;
        }
      };
      const absl::Status done = co_await with_timeout(absl::Seconds(20), pings());
      EXPECT_TRUE(done.ok()) << done;
      pool.cancel();
    });
    EXPECT_GT(stalled_sent, 1u << 20) << "the stalled peer never filled its buffers";
    co_return round_trips;
  };
  EXPECT_EQ(run_here(body()), 1000);
  report("stalled reader", driver_name(), absl::Now() - start,
         "1000 round trips on one connection while another's reader stalls", rss_mib());
}

GIAMBIO_ON_EVERY_DRIVER(LoadTest);

}  // namespace
}  // namespace giambio
