#include "giambio/io_wait.h"

#include <fcntl.h>
#include <unistd.h>

#include "giambio/cancel_scope.h"
#include "giambio/pool.h"
#include "giambio/run.h"
#include "giambio/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::testing::HasSubstr;

class Pipe {
 public:
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    read_fd = fds[0];
    write_fd = fds[1];
  }
  ~Pipe() {
    close(read_fd);
    if (write_fd >= 0) close(write_fd);
  }
  int read_fd;
  int write_fd;
};

RunOptions epoll_options() {
  RunOptions options;
  options.driver = DriverKind::kEpoll;
  return options;
}

TEST(IoWaitTest, ReadableWakesWhenDataArrives) {
  Pipe pipe;
  auto body = [&]() -> Task<char> {
    char received = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        absl::Status s = co_await wait_readable(pipe.read_fd);
        EXPECT_TRUE(s.ok()) << s;
        EXPECT_EQ(read(pipe.read_fd, &received, 1), 1);
      });
      co_await sleep(absl::Milliseconds(5));
      EXPECT_EQ(received, 0);  // still waiting
      EXPECT_EQ(write(pipe.write_fd, "x", 1), 1);
    });
    co_return received;
  };
  EXPECT_EQ(run(body(), epoll_options()), 'x');
}

TEST(IoWaitTest, WritableIsImmediateOnAnEmptyPipe) {
  Pipe pipe;
  auto body = [&]() -> Task<absl::Status> { co_return co_await wait_writable(pipe.write_fd); };
  EXPECT_TRUE(run(body(), epoll_options()).ok());
}

TEST(IoWaitTest, HangUpWakesTheReader) {
  Pipe pipe;
  auto body = [&]() -> Task<ssize_t> {
    ssize_t n = -2;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        EXPECT_TRUE((co_await wait_readable(pipe.read_fd)).ok());
        char c;
        n = read(pipe.read_fd, &c, 1);
      });
      co_await sleep(absl::Milliseconds(1));
      close(pipe.write_fd);
      pipe.write_fd = -1;
    });
    co_return n;
  };
  EXPECT_EQ(run(body(), epoll_options()), 0);  // end of file
}

TEST(IoWaitTest, CancelledWaitEndsAndConsumesNothing) {
  Pipe pipe;
  auto body = [&]() -> Task<> {
    CancelScope scope;
    scope.set_relative_deadline(absl::Milliseconds(5));
    co_await scope.run([&]() -> Task<> { (void)co_await wait_readable(pipe.read_fd); }());
    EXPECT_TRUE(scope.cancelled_caught());
    // The descriptor is free again: a new wait sees data written now.
    EXPECT_EQ(write(pipe.write_fd, "y", 1), 1);
    EXPECT_TRUE((co_await wait_readable(pipe.read_fd)).ok());
    char c = 0;
    EXPECT_EQ(read(pipe.read_fd, &c, 1), 1);
    EXPECT_EQ(c, 'y');
  };
  run(body(), epoll_options());
}

TEST(IoWaitTest, BadDescriptorIsAClearError) {
  auto body = []() -> Task<absl::Status> { co_return co_await wait_readable(-1); };
  absl::Status s = run(body(), epoll_options());
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("wait_readable(fd=-1)"));
}

TEST(IoWaitTest, SecondWaiterOnTheSameDirectionIsRefused) {
  Pipe pipe;
  auto body = [&]() -> Task<absl::Status> {
    absl::Status second;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { (void)co_await wait_readable(pipe.read_fd); });
      co_await sleep(absl::Milliseconds(1));
      second = co_await wait_readable(pipe.read_fd);
      pool.cancel();
    });
    co_return second;
  };
  absl::Status s = run(body(), epoll_options());
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("wait_readable(fd="));
}

// A task that only yields must not starve I/O: with the spinner always ready, the loop still
// polls the driver each turn, so the reader sees its data and then stops the spinner.
TEST(IoWaitTest, AYieldingTaskDoesNotStarveIo) {
  Pipe pipe;
  auto body = [&]() -> Task<long> {
    long spins = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        while (true) {
          ++spins;
          co_await checkpoint();
        }
      });
      pool.spawn([&]() -> Task<> {
        EXPECT_TRUE((co_await wait_readable(pipe.read_fd)).ok());
        pool.cancel();
      });
      co_await checkpoint();
      EXPECT_EQ(write(pipe.write_fd, "z", 1), 1);
      co_return;
    });
    co_return spins;
  };
  EXPECT_GT(run(body(), epoll_options()), 0);
}

TEST(IoWaitTest, TheVirtualClockDriverRefusesIo) {
  Pipe pipe;
  auto body = [&]() -> Task<> { (void)co_await wait_readable(pipe.read_fd); };
  RunOptions options;
  options.driver = DriverKind::kVirtual;
  EXPECT_THROW(run(body(), std::move(options)), UsageError);
}

}  // namespace
}  // namespace giambio
