// A planted bug is found by sweeping seeds, its seed replays the same failure at the same
// virtual time, and the fixed protocol passes every seed.
//
// The protocol: a sender sets a register twice over UDP ("1" then "2", 1 ms apart) and the
// receiver keeps what arrives last. The buggy receiver trusts arrival order, so a reordered
// datagram leaves the stale "1"; the fixed receiver keeps the highest sequence number.
#include <optional>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "giambio/giambio.h"
#include "gtest/gtest.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

struct Outcome {
  std::string value;
  absl::Duration checked_at;
  uint64_t fingerprint;
};

Outcome run_register(uint64_t seed, bool fixed) {
  WorldOptions options{.seed = seed};
  options.faults.network.latency = absl::Milliseconds(1);
  options.faults.network.jitter = absl::Microseconds(500);
  options.faults.network.reorder = 0.05;
  World world(std::move(options));
  Host& writer = world.add_host("writer");
  Host& replica = world.add_host("replica");
  std::string value;
  int64_t highest = -1;
  Outcome outcome;
  world.run([&]() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        co_await world.on(replica, [&]() -> Task<> {
          absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 4));
          while (true) {
            absl::StatusOr<Datagram> d = co_await socket->receive_from(16);
            int64_t seq = 0;
            (void)absl::SimpleAtoi(d->data, &seq);
            if (fixed && seq <= highest) continue;
            highest = seq;
            value = d->data;
          }
        }());
      });
      co_await world.on(writer, [&]() -> Task<> {
        absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 0));
        co_await sleep(absl::Milliseconds(1));
        (void)co_await socket->send_to("1", replica.address(4));
        co_await sleep(absl::Milliseconds(1));
        (void)co_await socket->send_to("2", replica.address(4));
      }());
      co_await sleep(absl::Seconds(1));
      outcome.value = value;
      outcome.checked_at = world.elapsed();
      pool.cancel();
    });
  });
  outcome.fingerprint = world.fingerprint();
  return outcome;
}

TEST(PlantedBugTest, FoundWithinAThousandSeedsReplayedExactlyAndFixed) {
  std::optional<uint64_t> failing;
  for (uint64_t seed = 0; seed < 1000 && !failing; ++seed) {
    if (run_register(seed, /*fixed=*/false).value != "2") failing = seed;
  }
  ASSERT_TRUE(failing.has_value()) << "the planted bug was not found in 1000 seeds";
  const Outcome first = run_register(*failing, false);
  for (int replay = 0; replay < 3; ++replay) {
    const Outcome again = run_register(*failing, false);
    EXPECT_EQ(again.value, first.value);
    EXPECT_EQ(again.checked_at, first.checked_at);
    EXPECT_EQ(again.fingerprint, first.fingerprint);
  }
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    ASSERT_EQ(run_register(seed, /*fixed=*/true).value, "2") << "seed " << seed;
  }
}

TEST(PlantedBugTest, AThousandSeedsGiveAtLeast990Fingerprints) {
  std::set<uint64_t> fingerprints;
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    fingerprints.insert(run_register(seed, true).fingerprint);
  }
  EXPECT_GE(fingerprints.size(), 990u);
}

}  // namespace
}  // namespace giambio::sim
