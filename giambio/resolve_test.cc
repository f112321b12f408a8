// Name resolution and open_tcp_stream on every real driver. (Happy eyeballs timing is tested
// exactly, in virtual time, by //sim:happy_eyeballs_test.)
#include "giambio/resolve.h"

#include <string>
#include <vector>

#include "giambio/drivers_test_util.h"
#include "giambio/open_tcp_stream.h"
#include "giambio/pool.h"
#include "giambio/timeouts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

class ResolveTest : public testing::OnEveryDriver {};

std::vector<std::string> texts(const std::vector<SocketAddress>& addresses) {
  std::vector<std::string> out;
  for (const SocketAddress& address : addresses) out.push_back(address.to_string());
  return out;
}

TEST_P(ResolveTest, LocalhostResolvesOnAWorkerThread) {
  const auto addresses = run_here(resolve("localhost", 8080));
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_THAT(texts(*addresses), Contains("127.0.0.1:8080"));
  const auto v4 = run_here(resolve("localhost", 1, AF_INET));
  ASSERT_TRUE(v4.ok()) << v4.status();
  for (const SocketAddress& address : *v4) EXPECT_EQ(address.family(), AF_INET);
}

TEST_P(ResolveTest, NumericAddressesNeedNoLookup) {
  const auto v6 = run_here(resolve("::1", 443));
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(texts(*v6), std::vector<std::string>{"[::1]:443"});
  const auto wrong_family = run_here(resolve("::1", 443, AF_INET));
  EXPECT_TRUE(absl::IsNotFound(wrong_family.status())) << wrong_family.status();
}

TEST_P(ResolveTest, AnUnknownHostIsNotFound) {
  // .invalid never resolves (RFC 6761).
  const auto addresses = run_here(resolve("no-such-host.invalid", 80));
  EXPECT_FALSE(addresses.ok());
  EXPECT_THAT(std::string(addresses.status().message()), HasSubstr("no-such-host.invalid"));
}

TEST_P(ResolveTest, BadArgumentsAreInvalidArgument) {
  struct Case {
    std::string host;
    int port;
    int family;
    std::string error;
  };
  const Case cases[] = {
      {"", 80, AF_UNSPEC, "resolve(\"\", 80): the host is empty"},
      {std::string(300, 'a'), 80, AF_UNSPEC, "the host is 300 bytes; names have at most 253"},
      {std::string("a\0b", 3), 80, AF_UNSPEC, "the host contains a NUL byte"},
      {"localhost", -1, AF_UNSPEC, "resolve(\"localhost\", -1): the port is not in 0..65535"},
      {"localhost", 65536, AF_UNSPEC, "the port is not in 0..65535"},
      {"localhost", 80, AF_UNIX, "family 1 is not AF_UNSPEC, AF_INET or AF_INET6"},
  };
  for (const Case& bad : cases) {
    const auto addresses = run_here(resolve(bad.host, bad.port, bad.family));
    EXPECT_EQ(addresses.status().code(), absl::StatusCode::kInvalidArgument) << bad.error;
    EXPECT_THAT(std::string(addresses.status().message()), HasSubstr(bad.error));
  }
}

TEST_P(ResolveTest, OpenTcpStreamByName) {
  std::string reply;
  run_here([&]() -> Task<> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    EXPECT_TRUE(listener.ok());
    const int port = listener->local_address().port();
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        absl::StatusOr<SocketStream> server = co_await listener->accept();
        EXPECT_TRUE(server.ok());
        EXPECT_TRUE((co_await server->write_all("hello")).ok());
      });
      absl::StatusOr<SocketStream> client =
          co_await open_tcp_stream("localhost", port, {.family = AF_INET});
      EXPECT_TRUE(client.ok()) << client.status();
      if (client.ok()) reply = (co_await client->read_some(16)).value_or("");
    });
  }());
  EXPECT_EQ(reply, "hello");
}

// The first address refuses; with an hour's delay the call would time out unless the failure
// started the next attempt early.
Task<absl::StatusOr<SocketStream>> refused_then_listening() {
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
  absl::StatusOr<SocketListener> closed =
      SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
  std::vector<SocketAddress> addresses = {closed->local_address(), listener->local_address()};
  EXPECT_TRUE(closed->close().ok());
  OpenTcpOptions options;
  options.happy_eyeballs_delay = absl::Hours(1);
  co_return co_await with_timeout(absl::Seconds(10), open_tcp_stream(addresses, options));
}

TEST_P(ResolveTest, ARefusedAddressHandsOverAtOnceOnARealDriver) {
  const absl::StatusOr<SocketStream> client = run_here(refused_then_listening());
  EXPECT_TRUE(client.ok()) << client.status();
}

TEST_P(ResolveTest, OpenTcpStreamToNothingNamesTheCause) {
  const auto client = run_here([]() -> Task<absl::StatusOr<SocketStream>> {
    absl::StatusOr<SocketListener> closed =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    const int port = closed->local_address().port();
    EXPECT_TRUE(closed->close().ok());
    co_return co_await open_tcp_stream("127.0.0.1", port);
  }());
  EXPECT_FALSE(client.ok());
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("open_tcp_stream(127.0.0.1:"));
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("Connection refused"));
}

GIAMBIO_ON_EVERY_DRIVER(ResolveTest);

}  // namespace
}  // namespace giambio
