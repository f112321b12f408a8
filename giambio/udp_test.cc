#include "giambio/udp.h"

#include <unistd.h>

#include <string>

#include "giambio/drivers_test_util.h"
#include "giambio/pool.h"
#include "giambio/socket_stream.h"
#include "giambio/timeouts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::testing::HasSubstr;

class UdpTest : public testing::OnEveryDriver {};

TEST_P(UdpTest, RoundTrip) {
  auto body = []() -> Task<std::string> {
    absl::StatusOr<UdpSocket> server = UdpSocket::bind(*SocketAddress::parse("127.0.0.1", 0));
    absl::StatusOr<UdpSocket> client = UdpSocket::bind(*SocketAddress::parse("127.0.0.1", 0));
    EXPECT_TRUE(server.ok() && client.ok());
    std::string reply;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {  // answers one datagram, to its sender
        absl::StatusOr<Datagram> d = co_await server->receive_from();
        EXPECT_EQ(d->from.port(), client->local_address().port());
        EXPECT_TRUE((co_await server->send_to("pong:" + d->data, d->from)).ok());
      });
      EXPECT_TRUE((co_await client->send_to("ping", server->local_address())).ok());
      absl::StatusOr<Datagram> answer = co_await client->receive_from();
      reply = answer.ok() ? answer->data : answer.status().ToString();
    });
    co_return reply;
  };
  EXPECT_EQ(run_here(body()), "pong:ping");
}

TEST_P(UdpTest, TruncationCancellationAndBadInput) {
  auto body = []() -> Task<> {
    absl::StatusOr<UdpSocket> a = UdpSocket::bind(*SocketAddress::parse("127.0.0.1", 0));
    absl::StatusOr<UdpSocket> b = UdpSocket::bind(*SocketAddress::parse("127.0.0.1", 0));
    // A cancelled receive takes no datagram.
    std::optional<absl::StatusOr<Datagram>> skipped =
        co_await skip_after(absl::Milliseconds(5), b->receive_from());
    EXPECT_FALSE(skipped.has_value());
    EXPECT_TRUE((co_await a->send_to("0123456789", b->local_address())).ok());
    absl::StatusOr<Datagram> d = co_await b->receive_from(4);
    EXPECT_EQ(d->data, "0123");
    EXPECT_TRUE(d->truncated);
    EXPECT_TRUE(absl::IsInvalidArgument((co_await b->receive_from(0)).status()));
    // The IPv4 limit is 65,507 bytes (the simulator says the same: sim/world_test).
    const std::string largest(65507, 'x');
    const std::string too_large(65508, 'x');
    EXPECT_TRUE((co_await a->send_to(largest, b->local_address())).ok());
    absl::StatusOr<Datagram> got = co_await b->receive_from();
    EXPECT_EQ(got.ok() ? got->data.size() : 0, 65507u);
    const absl::Status too_long = co_await a->send_to(too_large, b->local_address());
    EXPECT_THAT(too_long.message(), HasSubstr("Message too long")) << too_long;
    EXPECT_TRUE(b->close().ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(b->close()));
    EXPECT_TRUE(absl::IsFailedPrecondition((co_await b->receive_from()).status()));
    absl::StatusOr<UdpSocket> taken = UdpSocket::bind(a->local_address());
    EXPECT_FALSE(taken.ok());
    EXPECT_THAT(taken.status().message(), HasSubstr("bind(127.0.0.1:"));
  };
  run_here(body());
}

TEST_P(UdpTest, UnixStreamSocketsAndSocketPairs) {
  // Unix socket paths are limited to 107 bytes: TEST_TMPDIR is often longer.
  const std::string path =
      "/tmp/giambio_" + std::to_string(getpid()) + "_" +
      testing::driver_test_name(::testing::TestParamInfo<DriverKind>(GetParam(), 0)) + ".sock";
  auto body = [&]() -> Task<std::string> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    EXPECT_TRUE(pair.ok());
    EXPECT_TRUE((co_await pair->first.write_all("over the pair")).ok());
    std::string got = (co_await pair->second.read_some(100)).value_or("");

    unlink(path.c_str());
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::unix_path(path));
    EXPECT_TRUE(listener.ok()) << listener.status();
    absl::StatusOr<SocketStream> server;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { server = co_await listener->accept(); });
      absl::StatusOr<SocketStream> client =
          co_await SocketStream::connect(listener->local_address());
      EXPECT_TRUE(client.ok()) << client.status();
      EXPECT_TRUE((co_await client->write_all(" and unix")).ok());
    });
    got += (co_await server->read_some(100)).value_or("");
    unlink(path.c_str());
    co_return got;
  };
  EXPECT_EQ(run_here(body()), "over the pair and unix");
}

GIAMBIO_ON_EVERY_DRIVER(UdpTest);

}  // namespace
}  // namespace giambio
