#include "giambio/serve.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "giambio/drivers_test_util.h"
#include "giambio/run.h"
#include "giambio/test_util.h"
#include "giambio/timeouts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

class ServeTest : public testing::OnEveryDriver {};

Task<> echo_once(SocketStream stream) {
  absl::StatusOr<std::string> line = co_await stream.read_some(1024);
  if (line.ok()) (void)co_await stream.write_all(*line);
}

Task<std::string> ask(const SocketAddress& address, std::string question) {
  absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(address);
  if (!stream.ok()) co_return stream.status().ToString();
  (void)co_await stream->write_all(question);
  absl::StatusOr<std::string> answer = co_await stream->read_some(1024);
  co_return answer.ok() ? *answer : answer.status().ToString();
}

TEST_P(ServeTest, OneTaskPerConnection) {
  auto body = []() -> Task<int> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    int answered = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { (void)co_await serve_tcp(*listener, echo_once); });
      co_await with_pool([&](Pool& clients) -> Task<> {
        for (int i = 0; i < 20; ++i) {
          clients.spawn([&, i]() -> Task<> {
            const std::string q = "q" + std::to_string(i);
            if (co_await ask(listener->local_address(), q) == q) ++answered;
          });
        }
        co_return;
      });
      pool.cancel();
    });
    co_return answered;
  };
  EXPECT_EQ(run_here(body()), 20);
}

// ServeOptions::on_connection hears every connection open and close, with its peer: one whose
// handler returned, and one still running when the server was cancelled.
TEST_P(ServeTest, OnConnectionHearsEachConnectionOpenAndClose) {
  struct Heard {
    std::vector<std::string> events;
    std::vector<std::string> clients;  // the clients' own addresses, as the server's peers
  };
  auto body = []() -> Task<Heard> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    Heard heard;
    ServeOptions options;
    options.on_connection = [&heard](const SocketAddress& peer, ConnectionEvent event) {
      heard.events.push_back((event == ConnectionEvent::kOpened ? "opened " : "closed ") +
                             peer.to_string());
    };
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { (void)co_await serve_tcp(*listener, echo_once, options); });
      absl::StatusOr<SocketStream> answered =
          co_await SocketStream::connect(listener->local_address());
      const std::string question = "q";
      (void)co_await answered->write_all(question);
      (void)co_await answered->read_some(16);  // echo_once has answered and returned
      heard.clients.push_back(answered->local_address()->to_string());
      absl::StatusOr<SocketStream> waiting =
          co_await SocketStream::connect(listener->local_address());
      heard.clients.push_back(waiting->local_address()->to_string());
      // Until the server has accepted it: its handler then waits for a question that never comes.
      for (int i = 0; i < 5000 && heard.events.size() < 3; ++i) {
        co_await sleep(absl::Milliseconds(1));
      }
      pool.cancel();
    });
    co_return heard;
  };
  const Heard heard = run_here(body());
  ASSERT_EQ(heard.clients.size(), 2u);
  EXPECT_THAT(heard.events, ::testing::UnorderedElementsAre(
                                "opened " + heard.clients[0], "closed " + heard.clients[0],
                                "opened " + heard.clients[1], "closed " + heard.clients[1]));
  // Each connection opened before it closed.
  for (const std::string& client : heard.clients) {
    const auto opened = std::find(heard.events.begin(), heard.events.end(), "opened " + client);
    const auto closed = std::find(heard.events.begin(), heard.events.end(), "closed " + client);
    EXPECT_LT(opened, closed) << client;
  }
}

// on_connection that throws when a connection closes fails that connection's task, as a throwing
// handler would: serve_tcp ends with the exception (it used to be told from a destructor, which
// terminated the process).
TEST_P(ServeTest, AnOnConnectionThatThrowsFailsTheServerInsteadOfTheProcess) {
  auto body = []() -> Task<> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    ServeOptions options;
    options.on_connection = [](const SocketAddress&, ConnectionEvent event) {
      if (event == ConnectionEvent::kClosed) throw std::runtime_error("counter broke");
    };
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { (void)co_await serve_tcp(*listener, echo_once, options); });
      (void)co_await ask(listener->local_address(), "q");
      co_await sleep(absl::Seconds(10));  // serve_tcp's failure cancels this
    });
  };
  std::string error;
  try {
    run_here(body());
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  EXPECT_EQ(error, "counter broke");
}

// With the descriptor limit reached, accept fails with EMFILE; serve_tcp backs off and serves
// the waiting client as soon as descriptors are freed.
TEST_P(ServeTest, KeepsServingThroughDescriptorExhaustion) {
  if (const char* sanitizer = std::getenv("GIAMBIO_TEST_SANITIZER");
      sanitizer != nullptr && std::string(sanitizer) == "ubsan") {
    GTEST_SKIP() << "UBSan's vptr check needs a free descriptor (it probes memory through a pipe)";
  }
  rlimit original;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  auto body = [&]() -> Task<std::string> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    std::string answer;
    std::vector<int> filler;
    co_await with_pool([&](Pool& pool) -> Task<> {
      // Use up every descriptor but one, which the client's socket takes: the server's accept
      // then fails with EMFILE until the filler is closed. (The server starts after this:
      // io_uring takes the limit in force when an accept is submitted.)
      const int probe = open("/dev/null", O_RDONLY);
      close(probe);
      rlimit lowered = original;
      lowered.rlim_cur = static_cast<rlim_t>(probe + 16);
      setrlimit(RLIMIT_NOFILE, &lowered);
      for (int fd; (fd = open("/dev/null", O_RDONLY)) >= 0;) filler.push_back(fd);
      close(filler.back());
      filler.pop_back();
      pool.spawn([&]() -> Task<> { (void)co_await serve_tcp(*listener, echo_once); });
      pool.spawn([&]() -> Task<> {
        co_await sleep(absl::Milliseconds(50));
        for (int fd : filler) close(fd);
        filler.clear();
      });
      answer = co_await ask(listener->local_address(), "hello");
      setrlimit(RLIMIT_NOFILE, &original);
      pool.cancel();
    });
    co_return answer;
  };
  const std::string answer = run_here(body());
  setrlimit(RLIMIT_NOFILE, &original);
  EXPECT_EQ(answer, "hello");
}

using testing::open_descriptors;

Task<> echo_all(SocketStream stream) {
  char buffer[65536];
  while (true) {
    absl::StatusOr<size_t> n = co_await stream.read(buffer);
    if (!n.ok() || *n == 0) co_return;
    if (!(co_await stream.write_all(std::string_view(buffer, *n))).ok()) co_return;
  }
}

// A client in the middle of an 8 MiB echo when the shutdown comes gets every byte back; a new
// connection is refused; serve_tcp returns OK as soon as that connection ends, well within the
// grace period; no descriptor is left.
TEST_P(ServeTest, AGracefulShutdownLetsConnectionsFinishAndRefusesNewOnes) {
  const int descriptors_before = open_descriptors();
  auto body = []() -> Task<> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    const SocketAddress address = listener->local_address();
    Event shutdown;
    absl::Time served_until;
    absl::Time transfer_done;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        ServeOptions options;
        options.shutdown = &shutdown;
        options.grace = absl::Seconds(20);
        absl::Status served = co_await serve_tcp(*listener, echo_all, options);
        EXPECT_TRUE(served.ok()) << served;
        served_until = Loop::current("test").now();
      });
      absl::StatusOr<SocketStream> client = co_await SocketStream::connect(address);
      EXPECT_TRUE(client.ok()) << client.status();
      if (!client.ok()) co_return;
      const std::string sent(8 << 20, 'e');
      std::string received;
      co_await with_pool([&](Pool& transfer) -> Task<> {
        transfer.spawn([&]() -> Task<> {
          EXPECT_TRUE((co_await client->write_all(sent)).ok());
          EXPECT_TRUE(client->send_eof().ok());
        });
        while (true) {
          absl::StatusOr<std::string> chunk = co_await client->read_some(1 << 20);
          if (!chunk.ok() || chunk->empty()) break;
          received += *chunk;
          if (!shutdown.is_set() && received.size() > (1 << 20)) {
            shutdown.set();  // mid-transfer
            co_await sleep(absl::Milliseconds(10));
            absl::StatusOr<SocketStream> late = co_await SocketStream::connect(address);
            EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable) << late.status();
          }
        }
      });
      EXPECT_EQ(received.size(), sent.size());
      EXPECT_TRUE(received == sent);
      (void)client->close();
      transfer_done = Loop::current("test").now();
      // The pool now waits for serve_tcp, which returns once its last connection has ended.
    });
    EXPECT_LT(served_until - transfer_done, absl::Seconds(5));
  };
  run_here(body());
  EXPECT_EQ(open_descriptors(), descriptors_before);
}

// A connection that does not end by itself is cancelled when the grace period is over, with a
// reason that says so.
TEST_P(ServeTest, ConnectionsStillRunningAfterTheGracePeriodAreCancelled) {
  auto body = []() -> Task<> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    Event shutdown;
    std::string reason;
    absl::Time shutdown_at;
    absl::Time served_until;
    auto stubborn = [&](SocketStream stream) -> Task<> {
      try {
        co_await sleep(absl::Hours(1));
      } catch (const Cancelled& cancelled) {
        reason = cancelled.what();
        throw;
      }
      (void)stream;
    };
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        ServeOptions options;
        options.shutdown = &shutdown;
        options.grace = absl::Milliseconds(200);
        absl::Status served = co_await serve_tcp(*listener, stubborn, options);
        EXPECT_TRUE(served.ok()) << served;
        served_until = Loop::current("test").now();
      });
      absl::StatusOr<SocketStream> client =
          co_await SocketStream::connect(listener->local_address());
      EXPECT_TRUE(client.ok());
      if (!client.ok()) co_return;
      co_await sleep(absl::Milliseconds(20));
      shutdown_at = Loop::current("test").now();
      shutdown.set();
    });
    EXPECT_GE(served_until - shutdown_at, absl::Milliseconds(200));
    EXPECT_LT(served_until - shutdown_at, absl::Seconds(5));
    EXPECT_THAT(reason,
                ::testing::EndsWith(
                    "'serve_tcp shutdown': serve_tcp: shutdown grace period of 200ms over"));
  };
  run_here(body());
}

TEST_P(ServeTest, ANegativeGracePeriodIsRefused) {
  auto body = []() -> Task<> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    Event shutdown;
    ServeOptions options;
    options.shutdown = &shutdown;
    options.grace = absl::Seconds(-1);
    absl::Status served = co_await serve_tcp(*listener, echo_once, options);
    EXPECT_EQ(served.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(served.message(), "serve_tcp: ServeOptions::grace -1s is negative");
  };
  run_here(body());
}

GIAMBIO_ON_EVERY_DRIVER(ServeTest);

}  // namespace
}  // namespace giambio
