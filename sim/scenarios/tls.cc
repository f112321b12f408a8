// The TLS scenario: clients talk to giambio's TLS echo server across a network that partitions,
// clogs, delays and reorders, so faults land in the middle of handshakes and records; every
// reply must be exactly the request. OpenSSL's randomness and clock come from the world
// (sim/tls_environment.h): a seed replays the same handshakes byte for byte.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/echo.h"
#include "giambio/giambio.h"
#include "giambio/tls_test_util.h"
#include "sim/scenarios/run_world.h"
#include "sim/tls_environment.h"

namespace giambio::sim {
namespace {

constexpr int kPort = 443;
constexpr int kClients = 3;

struct Counts {
  int round_trips = 0;
  int handshakes = 0;
  int failed_handshakes = 0;         // the clients': cut off by the network or timed out
  int server_failed_handshakes = 0;  // the server's
};

// Makes connection after connection: a handshake, then a drawn number of messages of drawn
// sizes, one at a time, each with a deadline short enough for a partition to break it, then a
// close_notify. A failure (a handshake or record cut by a partition, a timeout) just means a new
// connection.
Task<> tls_client(SocketAddress server, std::shared_ptr<const TlsContext> context, Prng prng,
                  Counts& counts) {
  while (true) {
    absl::StatusOr<SocketStream> tcp = co_await SocketStream::connect(server);
    if (!tcp.ok()) {
      co_await sleep(absl::Milliseconds(100));
      continue;
    }
    absl::StatusOr<TlsStream<SocketStream>> tls =
        TlsStream<SocketStream>::client(*std::move(tcp), context, "localhost");
    if (!tls.ok()) throw CheckFailure(tls.status().ToString());
    const absl::Status handshake = co_await with_timeout(absl::Seconds(2), tls->handshake());
    if (!handshake.ok()) {
      if (absl::IsUnauthenticated(handshake)) throw CheckFailure(handshake.ToString());
      ++counts.failed_handshakes;
      continue;
    }
    ++counts.handshakes;
    bool broken = false;
    for (uint64_t n = 1 + prng.uniform(10); n > 0 && !broken; --n) {
      // Two draws, two statements: the order of a call's arguments is the compiler's choice
      // (docs/architecture.md, determinism rules).
      const char letter = static_cast<char>('a' + prng.uniform(26));
      const size_t length = 1 + prng.uniform(20000);
      const std::string message(length, letter);
      std::optional<std::string> reply =
          co_await skip_after(absl::Seconds(2), [&]() -> Task<std::string> {
            if (!(co_await tls->write_all(message)).ok()) co_return "";
            std::string got;
            while (got.size() < message.size()) {
              absl::StatusOr<std::string> data = co_await tls->read_some(16 * 1024);
              if (!data.ok() || data->empty()) break;
              got += *data;
            }
            co_return got;
          }());
      if (!reply.has_value() || reply->empty()) {  // timed out or broken: a new connection
        broken = true;
        break;
      }
      if (*reply != message) {
        throw CheckFailure(absl::StrCat("tls echo: sent ", message.size(), " bytes of '",
                                        message.substr(0, 1), "', got ", reply->size(),
                                        " bytes starting '", reply->substr(0, 8), "'"));
      }
      ++counts.round_trips;
    }
    if (!broken) (void)co_await skip_after(absl::Seconds(2), tls->shutdown());
  }
}

RunResult run_tls(const RunSettings& settings) {
  Faults faults;
  faults.network.latency = absl::Milliseconds(2);
  faults.network.jitter = absl::Milliseconds(3);
  faults.network.bandwidth = 20'000'000;
  faults.schedule.partitions_per_minute = 20;
  faults.schedule.partition_length = absl::Seconds(3);
  faults.schedule.clogs_per_minute = 20;
  World world(world_options(settings, faults));
  Host& server = world.add_host("server");
  std::vector<Host*> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(&world.add_host(absl::StrCat("client", i)));
  const absl::Duration duration = workload_duration(settings, absl::Seconds(30));
  Counts counts;
  return run_world(
      world,
      [&]() -> Task<> {
        // Certificates made inside the world, from its seed.
        auto* environment = static_cast<SimTlsEnvironment*>(current_tls_environment());
        const testing::TestPki pki =
            testing::make_test_pki(kTlsCalendarStart, environment->library_context());
        TlsConfig server_config;
        server_config.certificate_chain_pem = pki.server.chain;
        server_config.private_key_pem = pki.server.key;
        TlsConfig client_config;
        client_config.ca_pem = pki.ca;
        std::shared_ptr<const TlsContext> server_context = *TlsContext::server(server_config);
        std::shared_ptr<const TlsContext> client_context = *TlsContext::client(client_config);
        co_await with_pool([&](Pool& pool) -> Task<> {
          pool.spawn([&]() -> Task<> {
            co_await world.on(server, [&]() -> Task<> {
              absl::StatusOr<SocketListener> listener =
                  SocketListener::listen(*SocketAddress::parse("0.0.0.0", kPort));
              if (!listener.ok()) throw CheckFailure(listener.status().ToString());
              ServeTlsOptions options;
              options.handshake_timeout = absl::Seconds(2);
              options.on_failed_handshake = [&](const absl::Status& failure) {
                if (absl::IsUnauthenticated(failure)) throw CheckFailure(failure.ToString());
                ++counts.server_failed_handshakes;
              };
              const absl::Status ended =
                  co_await examples::serve_tls_echo(*listener, server_context, options);
              throw CheckFailure(absl::StrCat("tls echo server: ", ended.ToString()));
            }());
          });
          co_await sleep(absl::Milliseconds(1));  // the server listens by now
          for (Host* client : clients) {
            pool.spawn([&, client]() -> Task<> {
              co_await world.on(*client, tls_client(server.address(kPort), client_context,
                                                    world.stream(client->name()), counts));
            });
          }
          co_await sleep(duration);
          pool.cancel();
        });
        if (counts.round_trips == 0) throw CheckFailure("tls echo: no round trip succeeded");
        if (std::getenv("GIAMBIO_TLS_SCENARIO_COUNTS") != nullptr) {
          std::fprintf(stderr,
                       "tls: handshakes=%d failed(client)=%d failed(server)=%d round_trips=%d\n",
                       counts.handshakes, counts.failed_handshakes, counts.server_failed_handshakes,
                       counts.round_trips);
        }
      },
      settings);
}

}  // namespace

Scenario tls_scenario() {
  return Scenario{
      .name = "tls",
      .summary =
          "3 clients send messages of 1 B to 20 KB over TLS 1.3 to giambio's TLS echo server, "
          "reconnecting (new handshake) after a failure",
      .faults =
          "2 ms +0-3 ms latency, 20 MB/s links, 3 partitions and 3 clogs per minute "
          "(landing in handshakes and records)",
      .checks =
          "every reply is byte for byte its request; certificates always verify; at least "
          "one round trip succeeds",
      .has_bug = false,
      .run = run_tls,
  };
}

}  // namespace giambio::sim
