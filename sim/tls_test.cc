// giambio's TLS in the simulator: the real TLS code over the simulated network, with OpenSSL's
// randomness and clock taken from the world (sim/tls_environment.h), so a seed replays the same
// handshake byte for byte.
#include <set>
#include <string>
#include <utility>

#include "giambio/giambio.h"
#include "giambio/tls_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/tls_environment.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

using ::giambio::testing::make_test_pki;
using ::giambio::testing::TestPki;
using Tls = TlsStream<SocketStream>;

struct EchoRun {
  uint64_t fingerprint = 0;
  absl::Status client = absl::UnknownError("not run");
  std::string echoed;
  std::string version;
  uint64_t random_bytes = 0;  // what OpenSSL drew from the world
  std::string ca;             // the CA certificate made in the world
};

// A TLS echo server on one host and a client on another that sends `payload` and reads it back,
// then shuts down; the certificates are made inside the world, from its seed.
EchoRun tls_echo(uint64_t seed, std::string payload) {
  World world({.seed = seed});
  Host& server = world.add_host("server");
  Host& client = world.add_host("client");
  EchoRun out;
  world.run([&]() -> Task<> {
    auto* environment = static_cast<SimTlsEnvironment*>(current_tls_environment());
    const TestPki pki = make_test_pki(kTlsCalendarStart, environment->library_context());
    out.ca = pki.ca;
    TlsConfig server_config;
    server_config.certificate_chain_pem = pki.server.chain;
    server_config.private_key_pem = pki.server.key;
    TlsConfig client_config;
    client_config.ca_pem = pki.ca;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        co_await world.on(server, [&]() -> Task<> {
          absl::StatusOr<std::shared_ptr<const TlsContext>> context =
              TlsContext::server(server_config);
          absl::StatusOr<SocketListener> listener =
              SocketListener::listen(*SocketAddress::parse("0.0.0.0", 443));
          absl::StatusOr<SocketStream> tcp = co_await listener->accept();
          absl::StatusOr<Tls> tls = Tls::server(*std::move(tcp), *context);
          while (true) {
            absl::StatusOr<std::string> got = co_await tls->read_some(1 << 16);
            if (!got.ok() || got->empty()) break;
            if (!(co_await tls->write_all(*got)).ok()) break;
          }
          (void)co_await tls->shutdown();
        }());
      });
      co_await world.on(client, [&]() -> Task<> {
        absl::StatusOr<std::shared_ptr<const TlsContext>> context =
            TlsContext::client(client_config);
        co_await sleep(absl::Milliseconds(1));  // the server listens by now
        absl::StatusOr<SocketStream> tcp = co_await SocketStream::connect(server.address(443));
        absl::StatusOr<Tls> tls = Tls::client(*std::move(tcp), *context, "localhost");
        absl::Status reading;
        co_await with_pool([&](Pool& both) -> Task<> {
          both.spawn([&]() -> Task<> {  // reads while the body writes: both ways at once
            while (out.echoed.size() < payload.size()) {
              absl::StatusOr<std::string> got = co_await tls->read_some(1 << 16);
              if (!got.ok()) reading = got.status();
              if (!got.ok() || got->empty()) break;
              out.echoed += *got;
            }
          });
          out.client = co_await tls->write_all(payload);
        });
        if (out.client.ok()) out.client = reading;
        out.version = tls->protocol_version();
        if (out.client.ok()) out.client = co_await tls->shutdown();
      }());
    });
    out.random_bytes = environment->bytes_drawn();
  });
  out.fingerprint = world.fingerprint();
  return out;
}

TEST(SimTlsTest, TheRealTlsCodeRunsOverTheSimulatedNetwork) {
  std::string payload(2 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i % 253);
  const EchoRun run = tls_echo(1, payload);
  ASSERT_TRUE(run.client.ok()) << run.client;
  EXPECT_TRUE(run.echoed == payload);
  EXPECT_EQ(run.version, "TLSv1.3");
  EXPECT_GT(run.random_bytes, 0u) << "OpenSSL drew its randomness from the world";
}

// The same seed twice: the same keys, certificates and handshake bytes, hence the same trace and
// fingerprint; other seeds: other keys.
TEST(SimTlsTest, TheSameSeedGivesTheSameHandshake) {
  const EchoRun first = tls_echo(7, "determinism");
  const EchoRun again = tls_echo(7, "determinism");
  ASSERT_TRUE(first.client.ok()) << first.client;
  EXPECT_EQ(first.fingerprint, again.fingerprint);
  EXPECT_EQ(first.random_bytes, again.random_bytes);
  EXPECT_EQ(first.ca, again.ca);
  std::set<std::string> cas;
  for (uint64_t seed = 0; seed < 20; ++seed) cas.insert(tls_echo(seed, "x").ca);
  EXPECT_EQ(cas.size(), 20u);
}

// In any process: this fingerprint was recorded by another run of this test. (ECDSA signatures
// vary in length with their random nonce, so a handshake whose randomness came from anywhere
// else would change the segment sizes in the trace.)
TEST(SimTlsTest, AGoldenFingerprintHoldsAcrossProcesses) {
  const EchoRun run = tls_echo(1, "golden");
  ASSERT_TRUE(run.client.ok()) << run.client;
  std::printf("fingerprint %016llx, %llu random bytes\n",
              static_cast<unsigned long long>(run.fingerprint),
              static_cast<unsigned long long>(run.random_bytes));
  EXPECT_EQ(run.fingerprint, 0x1b6f742107b45decULL);
}

}  // namespace
}  // namespace giambio::sim
