// The TCP suite, run on every real driver (io_uring and epoll).
#include "giambio/socket_stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/cancel_scope.h"
#include "giambio/drivers_test_util.h"
#include "giambio/instrument.h"
#include "giambio/pool.h"
#include "giambio/run.h"
#include "giambio/time.h"
#include "giambio/timeouts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::testing::HasSubstr;

class SocketStreamTest : public testing::OnEveryDriver {};

SocketAddress loopback(const char* host = "127.0.0.1") { return *SocketAddress::parse(host, 0); }

// Echoes every byte back until the peer closes its side.
Task<> echo(SocketStream stream) {
  char buffer[4096];
  while (true) {
    absl::StatusOr<size_t> n = co_await stream.read(buffer);
    if (!n.ok() || *n == 0) co_return;
    absl::Status s = co_await stream.write_all(std::string_view(buffer, *n));
    if (!s.ok()) co_return;
  }
}

Task<> serve_echo(SocketListener& listener, Pool pool) {
  while (true) {
    absl::StatusOr<SocketStream> stream = co_await listener.accept();
    if (!stream.ok()) co_return;
    pool.spawn(echo(*std::move(stream)));
  }
}

// Reads exactly `size` bytes (or until end of stream).
Task<std::string> read_exactly(SocketStream& stream, size_t size) {
  std::string data;
  while (data.size() < size) {
    absl::StatusOr<std::string> chunk = co_await stream.read_some(65536);
    if (!chunk.ok() || chunk->empty()) break;
    data += *chunk;
  }
  co_return data;
}

TEST_P(SocketStreamTest, EchoWithManyConcurrentClients) {
  constexpr int kClients = 50;
  constexpr int kMessages = 10;
  auto body = []() -> Task<int> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    EXPECT_TRUE(listener.ok()) << listener.status();
    int ok = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn(serve_echo(*listener, pool));
      co_await with_pool([&](Pool& clients) -> Task<> {
        for (int c = 0; c < kClients; ++c) {
          clients.spawn([&, c]() -> Task<> {
            absl::StatusOr<SocketStream> stream =
                co_await SocketStream::connect(listener->local_address());
            EXPECT_TRUE(stream.ok()) << stream.status();
            if (!stream.ok()) co_return;
            for (int m = 0; m < kMessages; ++m) {
              const std::string message =
                  "client " + std::to_string(c) + " message " + std::to_string(m);
              EXPECT_TRUE((co_await stream->write_all(message)).ok());
              EXPECT_EQ(co_await read_exactly(*stream, message.size()), message);
            }
            ++ok;
          });
        }
        co_return;
      });
      pool.cancel();  // stop the server
    });
    co_return ok;
  };
  EXPECT_EQ(run_here(body()), kClients);
}

TEST_P(SocketStreamTest, LargeWritesRoundTrip) {
  auto body = []() -> Task<bool> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    std::string payload(8 << 20, '\0');
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 131 % 251);
    std::string echoed;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn(serve_echo(*listener, pool));
      absl::StatusOr<SocketStream> client =
          co_await SocketStream::connect(listener->local_address());
      co_await with_pool([&](Pool& io) -> Task<> {
        io.spawn([&]() -> Task<> {
          size_t written = 0;
          EXPECT_TRUE((co_await client->write_all(payload, &written)).ok());
          EXPECT_EQ(written, payload.size());
        });
        echoed = co_await read_exactly(*client, payload.size());
      });
      pool.cancel();
    });
    co_return echoed == payload;
  };
  EXPECT_TRUE(run_here(body()));
}

// write_all's rounds go on inside the driver: the writing task is not resumed between them
// (in place: one step to start, one when the last byte is out), yet `bytes_written` shows the
// progress as it happens.
TEST_P(SocketStreamTest, WriteAllGoesOnWithoutResumingTheWriter) {
  struct StepCounter : Instrument {
    int writer_steps = 0;
    void before_task_step(const TaskInfo& task) override { writer_steps += task.name == "writer"; }
  } counter;
  auto body = []() -> Task<std::string> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    std::string payload(8 << 20, '\0');
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 131 % 251);
    std::string received;
    size_t written = 0;
    bool saw_progress = false;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn(
          [&]() -> Task<> {
            EXPECT_TRUE((co_await pair->first.write_all(payload, &written)).ok());
          },
          "writer");
      char buffer[65536];
      while (received.size() < payload.size()) {
        absl::StatusOr<size_t> n = co_await pair->second.read(buffer);
        if (!n.ok() || *n == 0) break;
        received.append(buffer, *n);
        saw_progress = saw_progress || (written > 0 && written < payload.size());
      }
    });
    EXPECT_TRUE(saw_progress);
    EXPECT_EQ(written, payload.size());
    co_return received == payload ? "same" : "different";
  };
  RunOptions options;
  options.driver = GetParam();
  options.instruments.push_back(&counter);
  EXPECT_EQ(run(body(), std::move(options)), "same");
  EXPECT_LE(counter.writer_steps, 2);
}

TEST_P(SocketStreamTest, HalfClose) {
  auto body = []() -> Task<std::string> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    std::string reply;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        absl::StatusOr<SocketStream> server = co_await listener->accept();
        std::string request;
        while (true) {  // read until the client's end of stream
          absl::StatusOr<std::string> chunk = co_await server->read_some(1024);
          if (!chunk.ok() || chunk->empty()) break;
          request += *chunk;
        }
        EXPECT_TRUE((co_await server->write_all("got " + request)).ok());
      });
      absl::StatusOr<SocketStream> client =
          co_await SocketStream::connect(listener->local_address());
      EXPECT_TRUE((co_await client->write_all("question")).ok());
      EXPECT_TRUE(client->send_eof().ok());
      reply = co_await read_exactly(*client, 100);  // until the server closes
    });
    co_return reply;
  };
  EXPECT_EQ(run_here(body()), "got question");
}

TEST_P(SocketStreamTest, PeerResetIsAnErrorNamingTheOperation) {
  auto body = []() -> Task<absl::Status> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    absl::Status status;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        absl::StatusOr<SocketStream> server = co_await listener->accept();
        const linger abort_on_close{1, 0};  // close sends RST
        setsockopt(server->fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
        (void)server->close();
      });
      absl::StatusOr<SocketStream> client =
          co_await SocketStream::connect(listener->local_address());
      co_await sleep(absl::Milliseconds(20));
      status = (co_await client->read_some(100)).status();
    });
    co_return status;
  };
  absl::Status status = run_here(body());
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("recv("));
  EXPECT_THAT(status.message(), HasSubstr("reset"));
}

TEST_P(SocketStreamTest, ConnectRefused) {
  auto body = []() -> Task<absl::Status> {
    SocketAddress closed_port;
    {
      absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
      closed_port = listener->local_address();
    }  // closed: nobody listens there now
    co_return (co_await SocketStream::connect(closed_port)).status();
  };
  absl::Status status = run_here(body());
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("connect(127.0.0.1:"));
  EXPECT_THAT(status.message(), HasSubstr("refused"));
}

// A listener that never accepts fills its backlog; a further connect then hangs (loopback
// drops the SYN) until a cancel scope's deadline ends it, and nothing stays open.
TEST_P(SocketStreamTest, ConnectTimeoutThroughACancelScope) {
  auto body = []() -> Task<absl::Status> {
    ListenOptions options;
    options.backlog = 0;
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback(), options);
    std::vector<SocketStream> filling;
    for (int i = 0; i < 4; ++i) {
      absl::StatusOr<absl::StatusOr<SocketStream>> attempt = co_await with_timeout(
          absl::Milliseconds(100), SocketStream::connect(listener->local_address()));
      if (attempt.ok() && attempt->ok()) filling.push_back(**std::move(attempt));
    }
    co_return (co_await with_timeout(absl::Milliseconds(200),
                                     SocketStream::connect(listener->local_address())))
        .status();
  };
  absl::Status status = run_here(body());
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
}

TEST_P(SocketStreamTest, CancelledAcceptLeavesTheListenerUsable) {
  auto body = []() -> Task<bool> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    std::optional<absl::StatusOr<SocketStream>> skipped =
        co_await skip_after(absl::Milliseconds(10), listener->accept());
    EXPECT_FALSE(skipped.has_value());
    bool accepted = false;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { accepted = (co_await listener->accept()).ok(); });
      absl::StatusOr<SocketStream> client =
          co_await SocketStream::connect(listener->local_address());
      EXPECT_TRUE(client.ok());
    });
    co_return accepted;
  };
  EXPECT_TRUE(run_here(body()));
}

TEST_P(SocketStreamTest, CancelledReadConsumesNothing) {
  auto body = []() -> Task<std::string> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    std::string got;
    // Shared with the pool's tasks, so declared outside the pool's body (see pool.h).
    absl::StatusOr<SocketStream> client;
    absl::StatusOr<SocketStream> server;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { server = co_await listener->accept(); });
      client = co_await SocketStream::connect(listener->local_address());
      co_await sleep(absl::Milliseconds(1));
      // Nothing has been sent yet: the read waits and is cancelled.
      std::optional<absl::StatusOr<std::string>> r =
          co_await skip_after(absl::Milliseconds(10), server->read_some(100));
      EXPECT_FALSE(r.has_value());
      EXPECT_TRUE((co_await client->write_all("every byte")).ok());
      got = co_await read_exactly(*server, 10);
    });
    co_return got;
  };
  EXPECT_EQ(run_here(body()), "every byte");
}

TEST_P(SocketStreamTest, ClosingAStreamWakesItsReader) {
  auto body = []() -> Task<absl::Status> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    absl::Status status;
    absl::StatusOr<SocketStream> client;
    absl::StatusOr<SocketStream> server;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn(
          [&]() -> Task<> { client = co_await SocketStream::connect(listener->local_address()); });
      server = co_await listener->accept();
      pool.spawn([&]() -> Task<> { status = (co_await server->read_some(10)).status(); });
      co_await sleep(absl::Milliseconds(5));
      EXPECT_TRUE(server->close().ok());
    });
    co_return status;
  };
  absl::Status status = run_here(body());
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("closed"));
}

// Closing a stream while its write_all waits between rounds (nobody reads: the buffers are
// full) stops the rounds: the writer sees the stream closed, and `bytes_written` is what the
// peer then reads before the end of the stream.
TEST_P(SocketStreamTest, ClosingAStreamStopsItsWriteAll) {
  auto body = []() -> Task<> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    const std::string payload(8 << 20, 'c');
    size_t written = 0;
    absl::Status status;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { status = co_await pair->first.write_all(payload, &written); });
      co_await sleep(absl::Milliseconds(5));
      EXPECT_TRUE(pair->first.close().ok());
    });
    EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
    EXPECT_THAT(status.message(), HasSubstr("closed"));
    EXPECT_GT(written, 0u);
    EXPECT_LT(written, payload.size());
    size_t received = 0;
    while (true) {
      absl::StatusOr<std::string> chunk = co_await pair->second.read_some(1 << 20);
      if (!chunk.ok() || chunk->empty()) break;
      received += chunk->size();
    }
    EXPECT_EQ(received, written);
  };
  run_here(body());
}

// Quiescence on the real drivers: once the reader is blocked in the kernel,
// wait_all_tasks_blocked returns (before any data exists), and the read then gets what is sent.
TEST_P(SocketStreamTest, WaitAllTasksBlockedSeesATaskBlockedInARead) {
  auto body = []() -> Task<std::string> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    EXPECT_TRUE(pair.ok()) << pair.status();
    std::string got;
    bool read_returned = false;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        absl::StatusOr<std::string> bytes = co_await pair->second.read_some(16);
        read_returned = true;
        if (bytes.ok()) got = *bytes;
      });
      co_await wait_all_tasks_blocked();
      EXPECT_FALSE(read_returned);
      absl::Status sent = co_await pair->first.write_all("quiet");
      EXPECT_TRUE(sent.ok()) << sent;
    });
    co_return got;
  };
  EXPECT_EQ(run_here(body()), "quiet");
}

TEST_P(SocketStreamTest, BadInputGivesClearErrors) {
  auto body = []() -> Task<> {
    absl::StatusOr<SocketAddress> bad = SocketAddress::parse("not-an-ip", 80);
    EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
    EXPECT_THAT(bad.status().message(), HasSubstr("not-an-ip"));
    EXPECT_TRUE(absl::IsInvalidArgument(SocketAddress::parse("127.0.0.1", 70000).status()));
    ListenOptions negative;
    negative.backlog = -1;
    EXPECT_TRUE(absl::IsInvalidArgument(SocketListener::listen(loopback(), negative).status()));

    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    absl::StatusOr<SocketStream> client;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { (void)co_await listener->accept(); });
      client = co_await SocketStream::connect(listener->local_address());
    });
    EXPECT_TRUE(absl::IsInvalidArgument((co_await client->read_some(-1)).status()));
    EXPECT_TRUE(absl::IsInvalidArgument((co_await client->read_some(0)).status()));
    EXPECT_TRUE(client->close().ok());
    absl::Status twice = client->close();
    EXPECT_TRUE(absl::IsFailedPrecondition(twice)) << twice;
    absl::Status after = (co_await client->read_some(10)).status();
    EXPECT_TRUE(absl::IsFailedPrecondition(after));
    EXPECT_THAT(after.message(), HasSubstr("recv: the stream is closed"));
    EXPECT_TRUE(absl::IsFailedPrecondition(co_await client->write_all("x")));
    EXPECT_TRUE(listener->close().ok());
    EXPECT_TRUE(absl::IsFailedPrecondition((co_await listener->accept()).status()));
  };
  run_here(body());
}

TEST_P(SocketStreamTest, Ipv6AndAddresses) {
  const int probe = socket(AF_INET6, SOCK_STREAM, 0);
  if (probe < 0) GTEST_SKIP() << "no IPv6 sockets here";
  close(probe);
  auto body = []() -> Task<> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback("::1"));
    EXPECT_TRUE(listener.ok()) << listener.status();
    if (!listener.ok()) co_return;
    EXPECT_THAT(listener->local_address().to_string(), HasSubstr("[::1]:"));
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        absl::StatusOr<SocketStream> server = co_await listener->accept();
        EXPECT_EQ(server->local_address()->port(), listener->local_address().port());
      });
      absl::StatusOr<SocketStream> client =
          co_await SocketStream::connect(listener->local_address());
      EXPECT_TRUE(client.ok()) << client.status();
      EXPECT_TRUE(client->set_nodelay(true).ok());
      EXPECT_EQ(client->peer_address()->to_string(), listener->local_address().to_string());
    });
  };
  run_here(body());
}

// The promise of a cancelled send: it says how much went out, and exactly that much arrives.
TEST_P(SocketStreamTest, CancelledWriteAllSaysHowMuchWentOut) {
  auto body = []() -> Task<> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    absl::StatusOr<SocketStream> client;
    absl::StatusOr<SocketStream> server;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { server = co_await listener->accept(); });
      client = co_await SocketStream::connect(listener->local_address());
    });
    // Nobody reads yet: the socket buffers fill and write_all blocks until cancelled.
    const std::string payload(64 << 20, 'w');
    size_t written = 0;
    std::optional<absl::Status> finished =
        co_await skip_after(absl::Milliseconds(50), client->write_all(payload, &written));
    EXPECT_FALSE(finished.has_value());
    EXPECT_GT(written, 0u);
    EXPECT_LT(written, payload.size());
    EXPECT_TRUE(client->send_eof().ok());
    size_t received = 0;
    while (true) {
      absl::StatusOr<std::string> chunk = co_await server->read_some(1 << 20);
      if (!chunk.ok() || chunk->empty()) break;
      received += chunk->size();
    }
    EXPECT_EQ(received, written);
  };
  run_here(body());
}

// A loop torn down while operations are in flight (a program that stops stepping its loop)
// withdraws them and lets go of every buffer before the frames go: ASan watches this.
TEST_P(SocketStreamTest, LoopTeardownWithOperationsInFlight) {
  absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
  absl::StatusOr<SocketStream> client;
  absl::StatusOr<SocketStream> server;
  {
    Loop loop(make_driver(GetParam()));
    auto body = [&]() -> Task<> {
      co_await with_pool([&](Pool& pool) -> Task<> {
        pool.spawn([&]() -> Task<> { server = co_await listener->accept(); });
        client = co_await SocketStream::connect(listener->local_address());
        while (!server.ok()) co_await sleep(absl::Milliseconds(1));  // accepted
        pool.spawn([&]() -> Task<> { (void)co_await server->read_some(100); });
        pool.spawn([&]() -> Task<> { (void)co_await client->read_some(100); });
        pool.spawn([&]() -> Task<> { (void)co_await listener->accept(); });
        co_await sleep_forever();
      });
    };
    TaskHandle<void> handle = loop.start(body());
    for (int i = 0; i < 20; ++i) loop.run_once(absl::Milliseconds(1));
    EXPECT_FALSE(handle.done());
    EXPECT_GT(loop.driver().pending(), 0u);
  }  // the loop goes, with three reads and an accept in flight
  EXPECT_TRUE(client.ok() && server.ok());
}

// read() and write() are StreamTransfers, awaited in place: they also convert to the Task they
// stand for, go through with_timeout (a timed-out read consumed nothing), refuse a second await,
// and check their buffers as the Task did.
TEST_P(SocketStreamTest, ReadsAndWritesAwaitedInPlaceAlsoWorkAsTasks) {
  auto body = []() -> Task<> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    SocketStream& a = pair->first;
    SocketStream& b = pair->second;
    char buffer[16];
    Task<absl::StatusOr<size_t>> as_task = b.read(buffer);
    absl::StatusOr<size_t> sent = co_await a.write(std::string_view("abc"));
    EXPECT_EQ(sent.value_or(0), 3u);
    absl::StatusOr<size_t> got = co_await std::move(as_task);
    EXPECT_EQ(std::string(buffer, got.value_or(0)), "abc");

    absl::StatusOr<size_t> timed_out =
        co_await with_timeout(absl::Milliseconds(10), b.read(buffer));
    EXPECT_EQ(timed_out.status().code(), absl::StatusCode::kDeadlineExceeded);
    CancelScope scope;
    std::optional<absl::StatusOr<size_t>> skipped =
        co_await skip_after(absl::Milliseconds(10), b.read(buffer), scope);
    EXPECT_FALSE(skipped.has_value());
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_TRUE((co_await a.write_all("xyz")).ok());
    got = co_await b.read(buffer);
    EXPECT_EQ(std::string(buffer, got.value_or(0)), "xyz");

    // A scope run around a read, and a read spawned into a pool, without spelling out the Task.
    CancelScope deadline;
    deadline.set_relative_deadline(absl::Milliseconds(10));
    ScopeResult<absl::StatusOr<size_t>> cut = co_await deadline.run(b.read(buffer));
    EXPECT_FALSE(cut.has_value());  // nothing came: the scope's deadline cut the read
    co_await with_pool([&](Pool& pool) -> Task<> {
      TaskHandle<absl::StatusOr<size_t>> reader = pool.spawn(b.read(buffer), "reader");
      TaskHandle<absl::Status> writer = pool.spawn(a.write_all("pool"), "writer");
      absl::StatusOr<size_t> read = co_await reader.join();
      EXPECT_EQ(std::string(buffer, read.value_or(0)), "pool");
      EXPECT_TRUE((co_await writer.join()).ok());
    });

    StreamTransfer once = b.read(buffer);
    EXPECT_TRUE((co_await a.write_all("1")).ok());
    got = co_await once;
    EXPECT_EQ(got.value_or(0), 1u);
    bool refused = false;
    try {
      (void)co_await once;
    } catch (const UsageError& e) {
      refused = std::string(e.what()).find("already awaited") != std::string::npos;
    }
    EXPECT_TRUE(refused);

    got = co_await b.read(std::span<char>());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(), HasSubstr("empty buffer"));
    sent = co_await a.write(std::span<const char>());
    EXPECT_EQ(sent.value_or(1), 0u);
  };
  run_here(body());
}

// One reader and one writer at a time: while a read waits, a second read is refused and the
// first still gets the bytes; while a write_all waits for the peer to read, a second write is
// refused and the first still sends everything. Afterwards the stream takes new ones.
TEST_P(SocketStreamTest, ASecondReaderOrWriterIsRefusedWhileOneWaits) {
  auto body = []() -> Task<> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    SocketStream& a = pair->first;
    SocketStream& b = pair->second;
    char buffer[16];
    char other[16];
    absl::StatusOr<size_t> first_read;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { first_read = co_await b.read(buffer); });
      co_await sleep(absl::Milliseconds(5));  // the first read waits now
      // A second read let through would wait too: the timeout turns that into a failure.
      absl::StatusOr<size_t> refused = co_await with_timeout(absl::Seconds(1), b.read(other));
      EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
      EXPECT_THAT(refused.status().message(),
                  HasSubstr("recv: another task is already reading from this stream"));
      StreamWriteAll hello = a.write_all("hello");
      EXPECT_TRUE((co_await hello).ok());
    });
    EXPECT_EQ(std::string(buffer, first_read.value_or(0)), "hello");

    const std::string payload(8 << 20, 'w');  // more than the socket buffers hold
    absl::Status first_write;
    size_t received = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { first_write = co_await a.write_all(payload); });
      co_await sleep(absl::Milliseconds(5));  // the buffers are full: it waits
      absl::StatusOr<size_t> refused =
          co_await with_timeout(absl::Seconds(1), a.write(std::string_view("x")));
      EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
      EXPECT_THAT(refused.status().message(),
                  HasSubstr("send: another task is already writing to this stream"));
      while (received < payload.size()) {
        absl::StatusOr<std::string> chunk = co_await b.read_some(1 << 20);
        if (!chunk.ok() || chunk->empty()) break;
        received += chunk->size();
      }
    });
    EXPECT_TRUE(first_write.ok()) << first_write;
    EXPECT_EQ(received, payload.size());

    // Both slots are free again.
    StreamWriteAll again = a.write_all("again");
    EXPECT_TRUE((co_await again).ok());
    StreamTransfer read_again = b.read(buffer);
    absl::StatusOr<size_t> got = co_await read_again;
    EXPECT_EQ(std::string(buffer, got.value_or(0)), "again");
  };
  run_here(body());
}

// A stream moved (or assigned over) while a task reads from it: the reader wakes and sees the
// stream it waited on closed, and the stream's new owner reads and writes as usual, its first
// read right after the move included (a stream's reads share one operation, which the woken
// reader must have let go of first).
TEST_P(SocketStreamTest, MovingAStreamWakesItsReaderAndTheNewOwnerReads) {
  auto body = []() -> Task<> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair2 = socket_pair();
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair3 = socket_pair();
    SocketStream& a = pair->first;
    SocketStream& b = pair->second;
    char buffer[16];
    char mine[16];
    absl::StatusOr<size_t> woken;
    absl::StatusOr<size_t> moved_read;
    std::optional<SocketStream> moved;  // outlives the pool's tasks
    co_await with_pool([&](Pool& pool) -> Task<> {
      // A reader left waiting would hang the pool: the timeout turns that into a failure.
      pool.spawn(
          [&]() -> Task<> { woken = co_await with_timeout(absl::Seconds(2), b.read(buffer)); });
      co_await sleep(absl::Milliseconds(5));  // the read waits now
      moved.emplace(std::move(b));
      pool.spawn([&]() -> Task<> {
        moved_read = co_await with_timeout(absl::Seconds(2), moved->read(mine));
      });
      StreamWriteAll hello = a.write_all("hello");
      EXPECT_TRUE((co_await hello).ok());
      co_await sleep(absl::Milliseconds(5));
      EXPECT_EQ(std::string(mine, moved_read.value_or(0)), "hello");
    });
    EXPECT_TRUE(absl::IsFailedPrecondition(woken.status())) << woken.status();
    EXPECT_THAT(woken.status().message(), HasSubstr("closed"));

    // Assigned over while a task reads: the reader sees it closed; then the stream reads from
    // its new peer.
    SocketStream& c = pair2->second;
    absl::StatusOr<size_t> assigned_over;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        assigned_over = co_await with_timeout(absl::Seconds(2), c.read(buffer));
      });
      co_await sleep(absl::Milliseconds(5));
      c = std::move(pair3->second);
      co_await sleep(absl::Milliseconds(5));  // the reader has seen it
      StreamWriteAll hi = pair3->first.write_all("hi");
      EXPECT_TRUE((co_await hi).ok());
      StreamTransfer next = c.read(buffer);
      absl::StatusOr<size_t> got = co_await next;
      EXPECT_EQ(std::string(buffer, got.value_or(0)), "hi");
    });
    EXPECT_TRUE(absl::IsFailedPrecondition(assigned_over.status())) << assigned_over.status();
    EXPECT_THAT(assigned_over.status().message(), HasSubstr("closed"));
  };
  run_here(body());
}

TEST_P(SocketStreamTest, ReusePortLetsTwoListenersShareAPortAndServeItTogether) {
  constexpr int kClients = 40;
  const std::string outcome = run_here([&]() -> Task<std::string> {
    ListenOptions shared;
    shared.reuse_port = true;
    absl::StatusOr<SocketListener> a = SocketListener::listen(loopback(), shared);
    if (!a.ok()) co_return a.status().ToString();
    absl::StatusOr<SocketListener> b = SocketListener::listen(a->local_address(), shared);
    if (!b.ok()) co_return b.status().ToString();
    // Without the option on the newcomer, the port is taken.
    absl::StatusOr<SocketListener> c = SocketListener::listen(a->local_address());
    EXPECT_THAT(c.status().ToString(), HasSubstr("Address already in use"));
    int accepted = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (SocketListener* listener : {&*a, &*b}) {
        pool.spawn([&, listener]() -> Task<> {
          while (true) {
            absl::StatusOr<SocketStream> stream = co_await listener->accept();
            if (stream.ok()) ++accepted;
          }
        });
      }
      std::vector<SocketStream> clients;
      for (int i = 0; i < kClients; ++i) {
        absl::StatusOr<SocketStream> client = co_await SocketStream::connect(a->local_address());
        EXPECT_TRUE(client.ok()) << client.status();
        if (client.ok()) clients.push_back(*std::move(client));
      }
      // Every connection is accepted by one of the two (the kernel spreads them).
      for (int wait = 0; wait < 1000 && accepted < kClients; ++wait) {
        co_await sleep(absl::Milliseconds(5));
      }
      pool.cancel();
    });
    co_return absl::StrCat("accepted ", accepted);
  }());
  EXPECT_EQ(outcome, absl::StrCat("accepted ", kClients));
}

GIAMBIO_ON_EVERY_DRIVER(SocketStreamTest);

}  // namespace
}  // namespace giambio
