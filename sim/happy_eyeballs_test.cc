// giambio's resolve and open_tcp_stream (happy eyeballs, RFC 8305) in the simulator, where
// virtual time makes every delay exact: links take 1 ms each way, so a connect takes 2 ms, and a
// refused one fails after 2 ms.
#include <string>
#include <vector>

#include "giambio/giambio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/network.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

using ::testing::HasSubstr;

Task<> listen_forever(int port) {
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("0.0.0.0", port));
  if (!listener.ok()) throw std::runtime_error(listener.status().ToString());
  std::vector<SocketStream> accepted;  // kept open
  while (true) {
    absl::StatusOr<SocketStream> stream = co_await listener->accept();
    if (stream.ok()) accepted.push_back(*std::move(stream));
  }
}

Task<> listen_forever6(int port) {  // on [::]: both families
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("::", port));
  if (!listener.ok()) throw std::runtime_error(listener.status().ToString());
  std::vector<SocketStream> accepted;
  while (true) {
    absl::StatusOr<SocketStream> stream = co_await listener->accept();
    if (stream.ok()) accepted.push_back(*std::move(stream));
  }
}

struct Outcome {
  absl::StatusOr<SocketStream> stream = absl::UnknownError("not run");
  absl::Duration took;
  std::string peer;  // read while the world runs; its sockets close when it ends
  size_t client_sockets_after = 0;
};

// The client opens a stream with `open` while `dead` is cut off from it (its SYNs vanish),
// `closed` refuses every connection and `good` accepts on port 7.
template <typename Open>
Outcome run(uint64_t seed, Open open) {
  World world({.seed = seed});
  Host& client = world.add_host("client");
  Host& dead = world.add_host("dead", [] { return listen_forever(7); });
  Host& closed = world.add_host("closed");
  Host& good = world.add_host("good", [] { return listen_forever(7); });
  Outcome outcome;
  world.run([&]() -> Task<> {
    world.partition(client, dead);
    co_await world.on(client, [&]() -> Task<> {
      const absl::Time start = giambio::now();
      outcome.stream = co_await open(dead.address(7), closed.address(7), good.address(7));
      outcome.took = giambio::now() - start;
      if (outcome.stream.ok()) outcome.peer = outcome.stream->peer_address()->to_string();
    }());
    outcome.client_sockets_after = world.network().open_sockets(client);
  });
  return outcome;
}

TEST(HappyEyeballs, ADeadFirstAddressCostsOneDelayNotAConnectTimeout) {
  const Outcome outcome = run(1, [](SocketAddress dead, SocketAddress, SocketAddress good) {
    return open_tcp_stream({dead, good});
  });
  ASSERT_TRUE(outcome.stream.ok()) << outcome.stream.status();
  EXPECT_EQ(outcome.peer, "10.0.0.4:7");
  EXPECT_EQ(outcome.took, absl::Milliseconds(250 + 2));
  // The losing attempt was cancelled and its socket closed: only the winner is open.
  EXPECT_EQ(outcome.client_sockets_after, 1u);
}

TEST(HappyEyeballs, AFailureStartsTheNextAttemptAtOnce) {
  const Outcome outcome = run(2, [](SocketAddress, SocketAddress closed, SocketAddress good) {
    return open_tcp_stream({closed, good});
  });
  ASSERT_TRUE(outcome.stream.ok()) << outcome.stream.status();
  EXPECT_EQ(outcome.took, absl::Milliseconds(2 + 2));
}

TEST(HappyEyeballs, ZeroDelayStartsEveryAttemptTogether) {
  OpenTcpOptions options;
  options.happy_eyeballs_delay = absl::ZeroDuration();
  const Outcome outcome = run(3, [&](SocketAddress dead, SocketAddress, SocketAddress good) {
    return open_tcp_stream({dead, good}, options);
  });
  ASSERT_TRUE(outcome.stream.ok()) << outcome.stream.status();
  EXPECT_EQ(outcome.took, absl::Milliseconds(2));
}

TEST(HappyEyeballs, WhenEveryAttemptFailsEveryCauseIsKept) {
  const Outcome outcome = run(4, [](SocketAddress, SocketAddress closed, SocketAddress) {
    SocketAddress other = *SocketAddress::parse("10.0.0.3", 8);
    return open_tcp_stream({closed, other}, {}, "closed");
  });
  ASSERT_FALSE(outcome.stream.ok());
  EXPECT_EQ(outcome.stream.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(outcome.stream.status().message(),
            "open_tcp_stream(closed): all 2 attempts failed: connect(10.0.0.3:7): Connection "
            "refused; connect(10.0.0.3:8): Connection refused");
  EXPECT_EQ(outcome.took, absl::Milliseconds(4));
  EXPECT_EQ(outcome.client_sockets_after, 0u);
}

TEST(HappyEyeballs, ATimeoutAroundItLeavesNothingOpen) {
  const Outcome outcome = run(5, [](SocketAddress dead, SocketAddress, SocketAddress) {
    SocketAddress dead_too = *SocketAddress::parse("10.0.0.2", 8);
    return with_timeout(absl::Seconds(1), open_tcp_stream({dead, dead_too}));
  });
  EXPECT_TRUE(absl::IsDeadlineExceeded(outcome.stream.status())) << outcome.stream.status();
  EXPECT_EQ(outcome.took, absl::Seconds(1));
  EXPECT_EQ(outcome.client_sockets_after, 0u);
}

TEST(HappyEyeballs, HostNamesResolveToSimulatedHosts) {
  const Outcome outcome = run(
      6, [](SocketAddress, SocketAddress, SocketAddress) { return open_tcp_stream("good", 7); });
  ASSERT_TRUE(outcome.stream.ok()) << outcome.stream.status();
  EXPECT_EQ(outcome.peer, "10.0.0.4:7");
  EXPECT_EQ(outcome.took, absl::Milliseconds(2));  // the lookup itself takes no virtual time
}

TEST(HappyEyeballs, AnUnknownNameIsNotFound) {
  const Outcome outcome = run(
      7, [](SocketAddress, SocketAddress, SocketAddress) { return open_tcp_stream("nowhere", 7); });
  EXPECT_TRUE(absl::IsNotFound(outcome.stream.status())) << outcome.stream.status();
  EXPECT_THAT(outcome.stream.status().message(), HasSubstr("resolve(nowhere): no such host"));
}

TEST(HappyEyeballs, BadArgumentsAreInvalidArgument) {
  OpenTcpOptions negative;
  negative.happy_eyeballs_delay = absl::Milliseconds(-1);
  const Outcome a = run(8, [&](SocketAddress, SocketAddress, SocketAddress good) {
    return open_tcp_stream({good}, negative, "good");
  });
  EXPECT_EQ(a.stream.status().message(),
            "open_tcp_stream(good): happy_eyeballs_delay -1ms is negative");
  const Outcome b = run(9, [](SocketAddress, SocketAddress, SocketAddress) {
    return open_tcp_stream(std::vector<SocketAddress>{});
  });
  EXPECT_EQ(b.stream.status().message(), "open_tcp_stream(addresses): no address to connect to");
}

// ---- Both families (RFC 8305's reason to exist) ----

// A host whose name resolves to [fd00::2, 10.0.0.2] (IPv6 first), reached from "client".
template <typename Setup>
Outcome dual_stack(uint64_t seed, Setup setup, OpenTcpOptions options = {}) {
  World world({.seed = seed});
  Host& client = world.add_host("client");
  Host& dual = world.add_host("dual", [] { return listen_forever6(7); });
  dual.publish_ipv6(true);
  Outcome outcome;
  world.run([&]() -> Task<> {
    setup(world);
    co_await world.on(client, [&]() -> Task<> {
      const absl::Time start = giambio::now();
      outcome.stream = co_await open_tcp_stream("dual", 7, options);
      outcome.took = giambio::now() - start;
      if (outcome.stream.ok()) outcome.peer = outcome.stream->peer_address()->to_string();
    }());
    outcome.client_sockets_after = world.network().open_sockets(client);
  });
  return outcome;
}

TEST(HappyEyeballs, IPv6IsTriedFirstWhenTheNameHasBoth) {
  const Outcome outcome = dual_stack(10, [](World&) {});
  ASSERT_TRUE(outcome.stream.ok()) << outcome.stream.status();
  EXPECT_EQ(outcome.peer, "[fd00::2]:7");
  EXPECT_EQ(outcome.took, absl::Milliseconds(2));
}

// IPv6 broken on the path (its SYNs vanish): IPv4 starts one delay later and wins; the IPv6
// attempt is cancelled and its socket closed.
TEST(HappyEyeballs, ABrokenIpv6PathCostsOneDelayThenIpv4Wins) {
  const Outcome outcome =
      dual_stack(11, [](World& world) { world.network().set_ipv6_broken(true); });
  ASSERT_TRUE(outcome.stream.ok()) << outcome.stream.status();
  EXPECT_EQ(outcome.peer, "10.0.0.2:7");
  EXPECT_EQ(outcome.took, absl::Milliseconds(250 + 2));
  EXPECT_EQ(outcome.client_sockets_after, 1u);
}

TEST(HappyEyeballs, AskingForOneFamilyGetsOnlyThatFamily) {
  OpenTcpOptions only4;
  only4.family = AF_INET;
  const Outcome four = dual_stack(
      12, [](World&) {}, only4);
  ASSERT_TRUE(four.stream.ok()) << four.stream.status();
  EXPECT_EQ(four.peer, "10.0.0.2:7");
  OpenTcpOptions only6;
  only6.family = AF_INET6;
  const Outcome six = dual_stack(
      13, [](World& world) { world.network().set_ipv6_broken(true); }, only6);
  EXPECT_EQ(six.stream.status().ToString(),
            "DEADLINE_EXCEEDED: open_tcp_stream(dual:7): connect([fd00::2]:7): Connection timed "
            "out");
  EXPECT_EQ(six.took, absl::Seconds(127))
      << "Linux's connect timeout, with nothing to fall back to";
}

}  // namespace
}  // namespace giambio::sim
