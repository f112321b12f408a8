// One echo and chat protocol test body, run on io_uring, on epoll and in the simulator: the
// production code path and the simulated one are the same code.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/chat.h"
#include "examples/echo.h"
#include "giambio/giambio.h"
#include "giambio/uring/uring_driver.h"
#include "gtest/gtest.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

// Where the protocol runs: which address the servers listen on, which address clients dial for
// a port, and how to run code as the server machine or as client machine i.
struct Places {
  SocketAddress listen_on;
  std::function<SocketAddress(int port)> dial;
  std::function<Task<>(Task<>)> as_server;
  std::function<Task<>(int client, Task<>)> as_client;
};

// Runs a server until it is cancelled; one that ends by itself fails the test.
Task<> serve(Task<absl::Status> server) {
  const absl::Status ended = co_await std::move(server);
  ADD_FAILURE() << "a server ended: " << ended;
}

Task<std::string> read_lines(SocketStream& stream, int lines) {
  std::string got;
  while (std::count(got.begin(), got.end(), '\n') < lines) {
    absl::StatusOr<std::string> data = co_await stream.read_some(4096);
    if (!data.ok() || data->empty()) break;
    got += *data;
  }
  co_return got;
}

constexpr int kEchoClients = 20;
constexpr int kChatClients = 3;

Task<> protocol(Places& places) {
  absl::StatusOr<SocketListener> echo;
  absl::StatusOr<SocketListener> chat;
  co_await places.as_server([&]() -> Task<> {
    echo = SocketListener::listen(places.listen_on);
    chat = SocketListener::listen(places.listen_on);
    co_return;
  }());
  EXPECT_TRUE(echo.ok() && chat.ok());
  const SocketAddress echo_address = places.dial(echo->local_address().port());
  const SocketAddress chat_address = places.dial(chat->local_address().port());
  int echoed = 0;
  std::vector<std::string> heard(kChatClients);
  Event all_joined;
  int joined = 0;
  co_await with_pool([&](Pool& servers) -> Task<> {
    servers.spawn([&] { return places.as_server(serve(examples::serve_echo(*echo))); });
    servers.spawn([&] {
      examples::ChatOptions options;
      options.welcome = "welcome\n";
      return places.as_server(serve(examples::serve_chat(*chat, std::move(options))));
    });
    co_await with_pool([&](Pool& clients) -> Task<> {
      for (int i = 0; i < kEchoClients; ++i) {
        clients.spawn([&, i]() -> Task<> {
          co_await places.as_client(i, [&, i]() -> Task<> {
            absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(echo_address);
            EXPECT_TRUE(stream.ok()) << stream.status();
            // Messages from a few bytes to half a megabyte, checked byte for byte.
            const std::string message(static_cast<size_t>(7 + i * i * 1300), 'a' + i % 26);
            size_t done = 0;
            co_await with_pool([&](Pool& halves) -> Task<> {
              halves.spawn(
                  [&]() -> Task<> { EXPECT_TRUE((co_await stream->write_all(message)).ok()); });
              std::string got;
              while (got.size() < message.size()) {
                absl::StatusOr<std::string> data = co_await stream->read_some(64 * 1024);
                if (!data.ok() || data->empty()) break;
                got += *data;
              }
              done = got == message;
            });
            EXPECT_TRUE(stream->send_eof().ok());
            absl::StatusOr<std::string> end = co_await stream->read_some(10);
            EXPECT_EQ(end.value_or("error"), "");  // the server closes after our half-close
            echoed += static_cast<int>(done);
          }());
        });
      }
      for (int i = 0; i < kChatClients; ++i) {
        clients.spawn([&, i]() -> Task<> {
          co_await places.as_client(kEchoClients + i, [&, i]() -> Task<> {
            absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(chat_address);
            EXPECT_TRUE(stream.ok()) << stream.status();
            EXPECT_EQ(co_await read_lines(*stream, 1), "welcome\n");
            if (++joined == kChatClients) all_joined.set();
            co_await all_joined.wait();
            EXPECT_TRUE((co_await stream->write_all(absl::StrCat("hello from ", i, "\n"))).ok());
            heard[i] = co_await read_lines(*stream, kChatClients - 1);
            // Stay until everyone has heard everyone.
            co_await sleep(absl::Milliseconds(200));
          }());
        });
      }
      co_return;
    });
    servers.cancel();
  });
  EXPECT_EQ(echoed, kEchoClients);
  for (int i = 0; i < kChatClients; ++i) {
    for (int j = 0; j < kChatClients; ++j) {
      const std::string line = absl::StrCat("hello from ", j, "\n");
      EXPECT_EQ(heard[i].find(line) != std::string::npos, i != j) << i << " heard " << heard[i];
    }
  }
}

class ProtocolTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ProtocolTest, EchoAndChat) {
  const std::string where = GetParam();
  if (where == "sim") {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      WorldOptions options{.seed = seed};
      options.faults.network.jitter = absl::Milliseconds(5);
      options.faults.network.bandwidth = 50'000'000;
      World world(std::move(options));
      Host& server = world.add_host("server");
      std::vector<Host*> clients;
      for (int i = 0; i < kEchoClients + kChatClients; ++i) {
        clients.push_back(&world.add_host(absl::StrCat("client", i)));
      }
      Places places{
          .listen_on = *SocketAddress::parse("0.0.0.0", 0),
          .dial = [&](int port) { return server.address(port); },
          .as_server = [&](Task<> work) -> Task<> { co_await world.on(server, std::move(work)); },
          .as_client = [&](int i, Task<> work) -> Task<> {
            co_await world.on(*clients[i], std::move(work));
          },
      };
      world.run([&] { return protocol(places); });
    }
    return;
  }
  RunOptions options;
  options.driver = where == "io_uring" ? DriverKind::kUring : DriverKind::kEpoll;
  if (where == "io_uring" && !UringDriver::create().ok()) GTEST_SKIP() << "no io_uring here";
  Places places{
      .listen_on = *SocketAddress::parse("127.0.0.1", 0),
      .dial = [](int port) { return *SocketAddress::parse("127.0.0.1", port); },
      .as_server = [](Task<> work) { return work; },
      .as_client = [](int, Task<> work) { return work; },
  };
  run(protocol(places), std::move(options));
}

INSTANTIATE_TEST_SUITE_P(Everywhere, ProtocolTest, ::testing::Values("io_uring", "epoll", "sim"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace giambio::sim
