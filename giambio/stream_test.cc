#include "giambio/stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "giambio/byte_stream.h"
#include "giambio/drivers_test_util.h"
#include "giambio/pool.h"
#include "giambio/socket_stream.h"
#include "giambio/timeouts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

class StreamTest : public testing::OnEveryDriver {};

struct PipePair {
  PipePair() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    in = AsyncStream(fds[0]);
    out = AsyncStream(fds[1]);
  }
  AsyncStream in;
  AsyncStream out;
};

TEST_P(StreamTest, PipeCarriesDataAndEndOfStream) {
  auto body = []() -> Task<std::string> {
    PipePair pipe;
    std::string received;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        while (true) {
          absl::StatusOr<std::string> chunk = co_await pipe.in.read_some(7);
          if (!chunk.ok() || chunk->empty()) break;
          received += *chunk;
        }
      });
      const std::string big(200000, 'p');  // more than a pipe buffer: the writer must wait
      size_t written = 0;
      EXPECT_TRUE((co_await pipe.out.write_all("hello " + big, &written)).ok());
      EXPECT_EQ(written, 6 + big.size());
      EXPECT_TRUE(pipe.out.close().ok());  // the reader sees end of stream
    });
    co_return received.substr(0, 8) + std::to_string(received.size());
  };
  EXPECT_EQ(run_here(body()), "hello pp200006");
}

// Descriptors numbered above io_uring's table of registered files (UringDriver::kFixedFilesMax)
// work as the others do, waits included (an io_uring driver that named a slot for them would
// fail every operation with EBADF).
TEST_P(StreamTest, DescriptorsAboveTheRegisteredTableWork) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  if (!testing::renumber_pair(fds, static_cast<int>(UringDriver::kFixedFilesMax) + 100)) {
    GTEST_SKIP() << "the descriptor limit is too low";
  }
  auto body = [](int read_end, int write_end) -> Task<std::string> {
    AsyncStream in(read_end);
    AsyncStream out(write_end);
    std::string received;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        while (true) {
          absl::StatusOr<std::string> chunk = co_await in.read_some(4096);
          if (!chunk.ok() || chunk->empty()) break;
          received += *chunk;
        }
      });
      const std::string big(200000, 'p');  // more than a pipe buffer: both sides wait
      EXPECT_TRUE((co_await out.write_all(big)).ok());
      EXPECT_TRUE(out.close().ok());
    });
    co_return std::to_string(received.size());
  };
  EXPECT_EQ(run_here(body(fds[0], fds[1])), "200000");
}

// Written once against the stream surface (byte_stream.h): sends `message` through `out` with
// write(), half-closing when the stream can, and reads it back from `in` with read().
template <ByteStream Out, ByteStream In>
Task<std::string> round_trip(Out& out, In& in, std::string message) {
  std::string received;
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {
      char buffer[5];
      while (true) {
        absl::StatusOr<size_t> got = co_await in.read(buffer);
        if (!got.ok() || *got == 0) break;
        received.append(buffer, *got);
      }
    });
    std::span<const char> rest(message);
    while (!rest.empty()) {
      absl::StatusOr<size_t> sent = co_await out.write(rest);
      if (!sent.ok()) break;
      rest = rest.subspan(*sent);
    }
    if constexpr (HalfCloseableStream<Out>) {
      EXPECT_TRUE(out.send_eof().ok());
    } else {
      EXPECT_TRUE(out.close().ok());
    }
  });
  co_return received;
}

TEST_P(StreamTest, CodeWrittenOnceAgainstByteStreamRunsOverPipesAndSockets) {
  auto body = []() -> Task<std::string> {
    PipePair pipe;
    const std::string through_pipe = co_await round_trip(pipe.out, pipe.in, "through a pipe");
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    EXPECT_TRUE(pair.ok());
    const std::string through_socket =
        co_await round_trip(pair->first, pair->second, "through a socket");
    EXPECT_TRUE(pair->first.is_open()) << "a socket half-closes and stays open";
    co_return through_pipe + " / " + through_socket;
  };
  EXPECT_EQ(run_here(body()), "through a pipe / through a socket");
}

TEST_P(StreamTest, CancelledReadConsumesNothing) {
  auto body = []() -> Task<std::string> {
    PipePair pipe;
    std::optional<absl::StatusOr<std::string>> skipped =
        co_await skip_after(absl::Milliseconds(5), pipe.in.read_some(10));
    EXPECT_FALSE(skipped.has_value());
    EXPECT_TRUE((co_await pipe.out.write_all("kept")).ok());
    co_return (co_await pipe.in.read_some(10)).value_or("");
  };
  EXPECT_EQ(run_here(body()), "kept");
}

TEST_P(StreamTest, BadInput) {
  auto body = []() -> Task<> {
    PipePair pipe;
    EXPECT_TRUE(absl::IsInvalidArgument((co_await pipe.in.read_some(-3)).status()));
    EXPECT_TRUE(pipe.in.close().ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(pipe.in.close()));
    EXPECT_TRUE(absl::IsFailedPrecondition((co_await pipe.in.read_some(1)).status()));
    // Writing into a pipe whose reader is gone: EPIPE, as a status naming the operation.
    absl::Status broken = co_await pipe.out.write_all("x");
    EXPECT_FALSE(broken.ok());
    EXPECT_THAT(broken.message(), ::testing::HasSubstr("write(fd="));
  };
  run_here(body());
}

GIAMBIO_ON_EVERY_DRIVER(StreamTest);

}  // namespace
}  // namespace giambio
