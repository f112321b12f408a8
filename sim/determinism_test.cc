// Determinism inside one process: distinct seeds give distinct runs and interleavings, and the
// same seed gives the same trace. (Across processes: //tools:simulate_test.)
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/giambio.h"
#include "gtest/gtest.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

TEST(DeterminismTest, TenTasksShowManyInterleavingsOverSeeds) {
  std::set<std::string> interleavings;
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    World world({.seed = seed});
    std::string order;
    world.run([&]() -> Task<> {
      co_await with_pool([&](Pool& pool) -> Task<> {
        for (int task = 0; task < 10; ++task) {
          pool.spawn([&order, task]() -> Task<> {
            for (int step = 0; step < 3; ++step) {
              order += static_cast<char>('0' + task);
              co_await checkpoint();
            }
          });
        }
        co_return;
      });
    });
    interleavings.insert(order);
  }
  std::printf("10 tasks, 1000 seeds: %zu different interleavings\n", interleavings.size());
  EXPECT_GE(interleavings.size(), 100u);
}

// Three hosts that exchange UDP heartbeats every second and notice a silence of over 3 s.
struct Heartbeats {
  int64_t sent = 0;
  int64_t silences = 0;
};

Task<> heartbeat(Host& self, std::vector<Host*> peers, Heartbeats& stats) {
  absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 5000));
  EXPECT_TRUE(socket.ok());
  std::vector<absl::Time> heard(peers.size(), giambio::now());
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {
      while (true) {
        absl::StatusOr<Datagram> datagram = co_await socket->receive_from(64);
        for (size_t i = 0; i < peers.size(); ++i) {
          if (datagram->data == peers[i]->name()) heard[i] = giambio::now();
        }
      }
    });
    while (true) {
      for (size_t i = 0; i < peers.size(); ++i) {
        if (giambio::now() - heard[i] > absl::Seconds(3)) ++stats.silences;
        (void)co_await socket->send_to(self.name(), peers[i]->address(5000));
        ++stats.sent;
      }
      co_await sleep(absl::Seconds(1));
    }
  });
}

TEST(DeterminismTest, ThreeHostHeartbeatsOverADayRunInSeconds) {
  WorldOptions options{.seed = 1};
  options.faults.network.jitter = absl::Milliseconds(20);
  World world(std::move(options));
  Heartbeats stats;
  std::vector<Host*> hosts;
  for (const char* name : {"a", "b", "c"}) {
    hosts.push_back(&world.add_host(name));
  }
  const auto start = std::chrono::steady_clock::now();
  world.run([&]() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (Host* host : hosts) {
        std::vector<Host*> peers;
        for (Host* other : hosts) {
          if (other != host) peers.push_back(other);
        }
        pool.spawn([&world, host, peers, &stats]() -> Task<> {
          co_await world.on(*host, heartbeat(*host, peers, stats));
        });
      }
      co_await sleep(absl::Hours(24));
      pool.cancel();
    });
  });
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double simulated = absl::ToDoubleSeconds(world.elapsed());
  std::printf(
      "heartbeats: %.0f simulated s in %.2f wall s = %.0f simulated s per wall s; "
      "%lld heartbeats, %lld trace events\n",
      simulated, wall, simulated / wall, static_cast<long long>(stats.sent),
      static_cast<long long>(world.trace().size()));
  EXPECT_EQ(world.elapsed(), absl::Hours(24));
  EXPECT_EQ(stats.silences, 0);
  EXPECT_GE(stats.sent, 6 * 86400);
  EXPECT_LT(wall, 30.0);  // generous: sanitizers; the figure above is what matters
}

TEST(DeterminismTest, SameSeedSameTraceEventForEvent) {
  auto trace_of = [](uint64_t seed) {
    WorldOptions options{.seed = seed, .swarm = true, .keep_trace = true};
    World world(std::move(options));
    Host& a = world.add_host("a");
    Host& b = world.add_host("b");
    world.run([&]() -> Task<> {
      co_await with_pool([&](Pool& pool) -> Task<> {
        pool.spawn([&]() -> Task<> {
          co_await world.on(b, []() -> Task<> {
            absl::StatusOr<UdpSocket> s = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 1));
            while (true) (void)co_await s->receive_from(10);
          }());
        });
        co_await world.on(a, [&]() -> Task<> {
          absl::StatusOr<UdpSocket> s = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 0));
          for (int i = 0; i < 50; ++i) {
            (void)co_await s->send_to("x", b.address(1));
            co_await sleep(absl::Milliseconds(3));
          }
        }());
        pool.cancel();
      });
    });
    std::string text;
    for (const TraceEvent& e : world.trace().events()) {
      absl::StrAppend(&text, absl::FormatDuration(e.time), " ", e.host, " ", e.task, " ", e.what,
                      " ", e.detail, "\n");
    }
    return std::make_pair(world.fingerprint(), text);
  };
  EXPECT_EQ(trace_of(11), trace_of(11));
  EXPECT_NE(trace_of(11).first, trace_of(12).first);
}

}  // namespace
}  // namespace giambio::sim
