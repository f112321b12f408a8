// Fault rates land where they are configured, and a zero rate injects nothing.
#include <fcntl.h>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "giambio/giambio.h"
#include "gtest/gtest.h"
#include "sim/disk.h"
#include "sim/network.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

constexpr int kMessages = 100'000;

struct Counts {
  int64_t received = 0;
  int64_t unique = 0;
  int64_t overtaken = 0;  // arrived after a datagram sent later
};

// Sends kMessages numbered datagrams from one host to another, 100 per millisecond.
Counts send_datagrams(const NetworkFaults& network, uint64_t seed) {
  WorldOptions options{.seed = seed};
  options.faults.network = network;
  World world(std::move(options));
  Host& a = world.add_host("a");
  Host& b = world.add_host("b");
  Counts counts;
  world.run([&]() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        co_await world.on(b, [&]() -> Task<> {
          absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 9));
          std::set<int> seen;
          int highest = -1;
          while (true) {
            absl::StatusOr<Datagram> datagram = co_await socket->receive_from(64);
            int seq = 0;
            EXPECT_TRUE(absl::SimpleAtoi(datagram->data, &seq));
            ++counts.received;
            if (seen.insert(seq).second) ++counts.unique;
            if (seq < highest) ++counts.overtaken;
            highest = std::max(highest, seq);
          }
        }());
      });
      co_await world.on(a, [&]() -> Task<> {
        absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 0));
        for (int i = 0; i < kMessages; ++i) {
          EXPECT_TRUE((co_await socket->send_to(std::to_string(i), b.address(9))).ok());
          if (i % 100 == 99) co_await sleep(absl::Milliseconds(1));
        }
        co_await sleep(absl::Seconds(1));  // let the last ones land
      }());
      pool.cancel();
    });
  });
  EXPECT_EQ(world.network().stats().datagrams_sent, static_cast<uint64_t>(kMessages));
  return counts;
}

void expect_rate(int64_t observed, double rate, const char* what) {
  const double expected = rate * kMessages;
  const double sigma = std::sqrt(kMessages * rate * (1 - rate));
  std::printf("%s: rate %.3f, expected %.0f, observed %lld (%.2f sigma)\n", what, rate, expected,
              static_cast<long long>(observed), sigma > 0 ? (observed - expected) / sigma : 0.0);
  EXPECT_LE(std::abs(observed - expected), 3 * sigma) << what;
}

TEST(FaultRatesTest, LossAlone) {
  for (const double rate : {0.0, 0.01, 0.2}) {
    const Counts c = send_datagrams({.loss = rate}, 1);
    expect_rate(kMessages - c.unique, rate, "loss");
    EXPECT_EQ(c.received, c.unique);
    EXPECT_EQ(c.overtaken, 0);
  }
}

TEST(FaultRatesTest, DuplicationAlone) {
  for (const double rate : {0.0, 0.05, 0.3}) {
    const Counts c = send_datagrams({.duplication = rate}, 2);
    expect_rate(c.received - c.unique, rate, "duplication");
    EXPECT_EQ(c.unique, kMessages);
  }
}

TEST(FaultRatesTest, ReorderAlone) {
  for (const double rate : {0.0, 0.02, 0.25}) {
    const Counts c = send_datagrams({.reorder = rate}, 3);
    expect_rate(c.overtaken, rate, "reorder");
    EXPECT_EQ(c.received, kMessages);
    EXPECT_EQ(c.unique, kMessages);
  }
}

TEST(FaultRatesTest, DiskReadErrorsAlone) {
  for (const double rate : {0.0, 0.05}) {
    WorldOptions options{.seed = 4};
    options.faults.disk.read_error = rate;
    options.faults.disk.latency = absl::Microseconds(1);
    World world(std::move(options));
    Host& host = world.add_host("host");
    int64_t errors = 0;
    world.run([&]() -> Task<> {
      co_await world.on(host, [&]() -> Task<> {
        absl::StatusOr<File> file = co_await File::open("/f", O_CREAT | O_RDWR);
        EXPECT_TRUE((co_await file->write_all_at("0123456789", 0)).ok());
        for (int i = 0; i < kMessages; ++i) {
          absl::StatusOr<std::string> data = co_await file->read_at(10, 0);
          if (!data.ok()) {
            EXPECT_NE(data.status().message().find("pread(/f)"), std::string::npos)
                << data.status();
            ++errors;
          } else {
            EXPECT_EQ(*data, "0123456789");
          }
        }
      }());
    });
    expect_rate(errors, rate, "read errors");
    EXPECT_EQ(world.disk().stats().read_errors, static_cast<uint64_t>(errors));
  }
}

}  // namespace
}  // namespace giambio::sim
