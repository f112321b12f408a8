// The echo scenario: clients talk to an echo server across a network that partitions, clogs,
// delays and reorders; every reply must be exactly the request.
#include "examples/echo.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/giambio.h"
#include "sim/scenarios/run_world.h"

namespace giambio::sim {
namespace {

constexpr int kPort = 7;
constexpr int kClients = 3;

// giambio's echo server (examples/echo.h), the same code as the echo_server program.
Task<> echo_server() {
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("0.0.0.0", kPort));
  if (!listener.ok()) throw CheckFailure(listener.status().ToString());
  const absl::Status ended = co_await examples::serve_echo(*listener);
  throw CheckFailure(absl::StrCat("echo server: ", ended.ToString()));
}

// Sends messages of drawn sizes, one at a time, each with a deadline; reconnects after a
// failure. Returns how many round trips succeeded.
Task<> echo_client(SocketAddress server, Prng prng, int& round_trips) {
  while (true) {
    absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server);
    if (!stream.ok()) {
      co_await sleep(absl::Milliseconds(100));
      continue;
    }
    while (true) {
      // Two draws, two statements: the order of a call's arguments is the compiler's choice
      // (docs/architecture.md, determinism rules).
      const char letter = static_cast<char>('a' + prng.uniform(26));
      const size_t length = 1 + prng.uniform(20000);
      const std::string message(length, letter);
      std::optional<std::string> reply =
          co_await skip_after(absl::Seconds(10), [&]() -> Task<std::string> {
            if (!(co_await stream->write_all(message)).ok()) co_return "";
            std::string got;
            while (got.size() < message.size()) {
              absl::StatusOr<std::string> data = co_await stream->read_some(16 * 1024);
              if (!data.ok() || data->empty()) break;
              got += *data;
            }
            co_return got;
          }());
      if (!reply.has_value() || reply->empty()) break;  // timed out or broken: reconnect
      if (*reply != message) {
        throw CheckFailure(absl::StrCat("echo: sent ", message.size(), " bytes of '",
                                        message.substr(0, 1), "', got ", reply->size(),
                                        " bytes starting '", reply->substr(0, 8), "'"));
      }
      ++round_trips;
    }
  }
}

RunResult run_echo(const RunSettings& settings) {
  Faults faults;
  faults.network.latency = absl::Milliseconds(2);
  faults.network.jitter = absl::Milliseconds(3);
  faults.network.bandwidth = 20'000'000;
  faults.schedule.partitions_per_minute = 3;
  faults.schedule.partition_length = absl::Seconds(3);
  faults.schedule.clogs_per_minute = 3;
  World world(world_options(settings, faults));
  Host& server = world.add_host("server", [] { return echo_server(); });
  server.set_crashable(false);
  std::vector<Host*> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(&world.add_host(absl::StrCat("client", i)));
  const absl::Duration duration = workload_duration(settings, absl::Seconds(30));
  int round_trips = 0;
  return run_world(
      world,
      [&]() -> Task<> {
        co_await with_pool([&](Pool& pool) -> Task<> {
          for (Host* client : clients) {
            pool.spawn([&, client]() -> Task<> {
              co_await world.on(*client, echo_client(server.address(kPort),
                                                     world.stream(client->name()), round_trips));
            });
          }
          co_await sleep(duration);
          pool.cancel();
        });
        if (round_trips == 0) throw CheckFailure("echo: no round trip succeeded");
      },
      settings);
}

}  // namespace

Scenario echo_scenario() {
  return Scenario{
      .name = "echo",
      .summary = "3 clients send messages of 1 B to 20 KB to an echo server and wait for each",
      .faults = "2 ms +0-3 ms latency, 20 MB/s links, 3 partitions and 3 clogs per minute",
      .checks = "every reply is byte for byte its request; at least one round trip succeeds",
      .has_bug = false,
      .run = run_echo,
  };
}

}  // namespace giambio::sim
