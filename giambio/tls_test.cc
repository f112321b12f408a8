// TLS round trips on io_uring and epoll, over loopback TCP, with certificates made by the test.
#include "giambio/tls.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/drivers_test_util.h"
#include "giambio/giambio.h"
#include "giambio/test_util.h"
#include "giambio/tls_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::giambio::testing::elapsed;
using ::giambio::testing::make_test_pki;
using ::giambio::testing::Pem;
using ::giambio::testing::run_virtual;
using ::giambio::testing::TestPki;
using ::testing::HasSubstr;

using Tls = TlsStream<SocketStream>;

const TestPki& pki() {
  static const TestPki* const made = new TestPki(make_test_pki());
  return *made;
}

std::shared_ptr<const TlsContext> server_context(TlsConfig config = {}) {
  if (config.certificate_chain_pem.empty()) {
    config.certificate_chain_pem = pki().server.chain;
    config.private_key_pem = pki().server.key;
  }
  absl::StatusOr<std::shared_ptr<const TlsContext>> context = TlsContext::server(config);
  EXPECT_TRUE(context.ok()) << context.status();
  return context.ok() ? *context : nullptr;
}

std::shared_ptr<const TlsContext> client_context(TlsConfig config = {}) {
  if (config.ca_pem.empty() && config.ca_file.empty()) config.ca_pem = pki().ca;
  absl::StatusOr<std::shared_ptr<const TlsContext>> context = TlsContext::client(config);
  EXPECT_TRUE(context.ok()) << context.status();
  return context.ok() ? *context : nullptr;
}

SocketAddress loopback() { return *SocketAddress::parse("127.0.0.1", 0); }

// What one connection did, seen from both ends.
struct Exchange {
  absl::Status client = absl::UnknownError("not run");
  absl::Status server = absl::UnknownError("not run");
  std::string client_got;
  std::string server_got;
  std::string version;
  std::string alpn;
  std::optional<std::string> client_subject;  // the server's view of the client's certificate
  std::string client_verified;                // the server's verify_result()
  std::string server_verified;                // the client's
  std::string sni;                            // the name the server was asked for
};

// A server that echoes everything it reads until end of stream, then shuts down; a client that
// sends `payload`, half of it written while the other half is being read back (full duplex),
// then shuts down.
Task<Exchange> echo_exchange(std::shared_ptr<const TlsContext> server_ctx,
                             std::shared_ptr<const TlsContext> client_ctx, std::string server_name,
                             std::string payload) {
  Exchange out;
  absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
  EXPECT_TRUE(listener.ok()) << listener.status();
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {
      absl::StatusOr<SocketStream> tcp = co_await listener->accept();
      if (!tcp.ok()) {
        out.server = tcp.status();
        co_return;
      }
      absl::StatusOr<Tls> tls = Tls::server(*std::move(tcp), server_ctx);
      if (!tls.ok()) {
        out.server = tls.status();
        co_return;
      }
      out.server = co_await tls->handshake();
      if (!out.server.ok()) co_return;
      out.client_subject = tls->peer_certificate_subject();
      out.client_verified = tls->verify_result();
      out.sni = tls->requested_server_name();
      while (true) {
        absl::StatusOr<std::string> got = co_await tls->read_some(64 * 1024);
        if (!got.ok()) {
          out.server = got.status();
          co_return;
        }
        if (got->empty()) break;
        out.server_got += *got;
        if (absl::Status s = co_await tls->write_all(*got); !s.ok()) {
          out.server = s;
          co_return;
        }
      }
      out.server = co_await tls->shutdown();
    });
    absl::StatusOr<SocketStream> tcp = co_await SocketStream::connect(listener->local_address());
    if (!tcp.ok()) {
      out.client = tcp.status();
      co_return;
    }
    absl::StatusOr<Tls> tls = Tls::client(*std::move(tcp), client_ctx, server_name);
    if (!tls.ok()) {
      out.client = tls.status();
      co_return;
    }
    out.client = co_await tls->handshake();
    if (!out.client.ok()) {
      (void)tls->close();
      co_return;
    }
    out.version = tls->protocol_version();
    out.alpn = tls->alpn_protocol();
    out.server_verified = tls->verify_result();
    absl::Status reading = absl::OkStatus();
    co_await with_pool([&](Pool& both) -> Task<> {
      both.spawn([&]() -> Task<> {  // the reader, while the body writes
        while (out.client_got.size() < payload.size()) {
          absl::StatusOr<std::string> got = co_await tls->read_some(64 * 1024);
          if (!got.ok()) {
            reading = got.status();
            co_return;
          }
          if (got->empty()) break;
          out.client_got += *got;
        }
      });
      out.client = co_await tls->write_all(payload);
    });
    if (out.client.ok()) out.client = reading;
    if (out.client.ok()) out.client = co_await tls->shutdown();
  });
  co_return out;
}

class TlsTest : public testing::OnEveryDriver {};

TEST_P(TlsTest, SmallAndLargePayloadsRoundTripBothWaysAtOnce) {
  std::string large(3 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 7 % 251);
  for (const std::string& payload : {std::string("hello over TLS"), large}) {
    Exchange e = run_here(echo_exchange(server_context(), client_context(), "localhost", payload));
    ASSERT_TRUE(e.client.ok()) << e.client;
    ASSERT_TRUE(e.server.ok()) << e.server;
    EXPECT_EQ(e.client_got.size(), payload.size());
    EXPECT_TRUE(e.client_got == payload);
    EXPECT_TRUE(e.server_got == payload);
    EXPECT_EQ(e.version, "TLSv1.3");
    EXPECT_EQ(e.sni, "localhost");
  }
}

TEST_P(TlsTest, Tls12AndAlpn) {
  TlsConfig server;
  server.max_version = TlsVersion::kTls12;
  server.alpn = {"h2", "http/1.1"};
  TlsConfig client;
  client.alpn = {"http/1.1", "h2"};
  client.ca_file = absl::StrCat(std::getenv("TEST_TMPDIR"), "/ca.pem");  // trust from a file
  std::ofstream(client.ca_file) << pki().ca;
  Exchange e =
      run_here(echo_exchange(server_context(server), client_context(client), "127.0.0.1", "x"));
  ASSERT_TRUE(e.client.ok()) << e.client;
  EXPECT_EQ(e.version, "TLSv1.2");
  EXPECT_EQ(e.alpn, "h2") << "the server's preference";
}

TEST_P(TlsTest, NoCommonProtocolVersionFailsTheHandshake) {
  TlsConfig server;
  server.min_version = TlsVersion::kTls13;
  TlsConfig client;
  client.max_version = TlsVersion::kTls12;
  Exchange e =
      run_here(echo_exchange(server_context(server), client_context(client), "127.0.0.1", "x"));
  EXPECT_TRUE(absl::IsUnavailable(e.client)) << e.client;
  EXPECT_THAT(std::string(e.client.message()),
              HasSubstr("TLS handshake with 127.0.0.1: tlsv1 alert protocol version"));
  EXPECT_EQ(e.sni, "") << "no SNI for an IP address";
  EXPECT_TRUE(absl::IsUnavailable(e.server)) << e.server;
}

TEST_P(TlsTest, NoCommonAlpnProtocolFailsTheHandshake) {
  TlsConfig server;
  server.alpn = {"h2"};
  TlsConfig client;
  client.alpn = {"spdy/3"};
  Exchange e =
      run_here(echo_exchange(server_context(server), client_context(client), "localhost", "x"));
  EXPECT_TRUE(absl::IsUnavailable(e.client)) << e.client;
  EXPECT_THAT(e.client.message(), HasSubstr("no application protocol")) << e.client;
}

TEST_P(TlsTest, CertificateFailuresAreUnauthenticatedAndSayWhy) {
  struct Case {
    std::string name;
    Pem server;
    std::string trusted_ca;
    std::string server_name;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"untrusted", pki().stranger, pki().ca, "localhost",
       "self-signed certificate in certificate chain"},
      {"expired", pki().expired, pki().ca, "localhost", "certificate has expired"},
      {"wrong name", pki().server, pki().ca, "example.com", "hostname mismatch"},
      {"wrong ip", pki().server, pki().ca, "10.1.2.3", "IP address mismatch"},
  };
  for (const Case& c : cases) {
    TlsConfig server;
    server.certificate_chain_pem = c.server.chain;
    server.private_key_pem = c.server.key;
    TlsConfig client;
    client.ca_pem = c.trusted_ca;
    Exchange e =
        run_here(echo_exchange(server_context(server), client_context(client), c.server_name, "x"));
    EXPECT_TRUE(absl::IsUnauthenticated(e.client)) << c.name << ": " << e.client;
    EXPECT_EQ(std::string(e.client.message()),
              absl::StrCat("TLS handshake with ", c.server_name,
                           ": certificate verify failed: ", c.reason))
        << c.name;
    EXPECT_FALSE(e.server.ok()) << c.name << ": the server saw the client's alert";
  }
}

TEST_P(TlsTest, MutualTlsAcceptedAndRejected) {
  TlsConfig server;
  server.client_certificates = ClientCertificates::kRequired;
  server.ca_pem = pki().ca;
  TlsConfig with_certificate;
  with_certificate.certificate_chain_pem = pki().client.chain;
  with_certificate.private_key_pem = pki().client.key;
  Exchange accepted = run_here(
      echo_exchange(server_context(server), client_context(with_certificate), "localhost", "mtls"));
  ASSERT_TRUE(accepted.client.ok()) << accepted.client;
  ASSERT_TRUE(accepted.server.ok()) << accepted.server;
  EXPECT_EQ(accepted.client_subject, "/CN=client");
  EXPECT_EQ(accepted.client_verified, "ok");
  EXPECT_EQ(accepted.server_verified, "ok");

  Exchange rejected =
      run_here(echo_exchange(server_context(server), client_context(), "localhost", "mtls"));
  EXPECT_TRUE(absl::IsUnauthenticated(rejected.server)) << rejected.server;
  EXPECT_THAT(rejected.server.message(), HasSubstr("the peer sent no certificate"));
  EXPECT_FALSE(rejected.client.ok());
}

TEST_P(TlsTest, OptionalClientCertificatesAreVerifiedWhenSent) {
  TlsConfig server;
  server.client_certificates = ClientCertificates::kOptional;
  server.ca_pem = pki().ca;
  Exchange without =
      run_here(echo_exchange(server_context(server), client_context(), "localhost", "x"));
  ASSERT_TRUE(without.server.ok()) << without.server;
  EXPECT_EQ(without.client_subject, std::nullopt);
  TlsConfig with_certificate;
  with_certificate.certificate_chain_pem = pki().client.chain;
  with_certificate.private_key_pem = pki().client.key;
  Exchange with = run_here(
      echo_exchange(server_context(server), client_context(with_certificate), "localhost", "x"));
  ASSERT_TRUE(with.server.ok()) << with.server;
  EXPECT_EQ(with.client_subject, "/CN=client");
  EXPECT_EQ(with.client_verified, "ok");
  TlsConfig stranger;  // a certificate the server's CA did not sign
  stranger.certificate_chain_pem = pki().stranger.chain;
  stranger.private_key_pem = pki().stranger.key;
  Exchange rejected =
      run_here(echo_exchange(server_context(server), client_context(stranger), "localhost", "x"));
  EXPECT_TRUE(absl::IsUnauthenticated(rejected.server)) << rejected.server;
}

// The transport ends without close_notify: the reader is told the data may be truncated.
TEST_P(TlsTest, AnAbruptCloseIsReportedAsTruncation) {
  auto body = []() -> Task<absl::Status> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    absl::Status status;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        absl::StatusOr<SocketStream> tcp = co_await listener->accept();
        absl::StatusOr<Tls> tls = Tls::server(*std::move(tcp), server_context());
        EXPECT_TRUE((co_await tls->write_all("partial")).ok());
        EXPECT_TRUE(tls->close().ok());  // no close_notify
      });
      absl::StatusOr<SocketStream> tcp = co_await SocketStream::connect(listener->local_address());
      absl::StatusOr<Tls> tls = Tls::client(*std::move(tcp), client_context(), "localhost");
      absl::StatusOr<std::string> first = co_await tls->read_some(100);
      EXPECT_EQ(first.value_or(""), "partial");
      status = (co_await tls->read_some(100)).status();
    });
    co_return status;
  };
  absl::Status status = run_here(body());
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_EQ(status.message(),
            "TLS read with localhost: the peer closed the connection without close_notify: the "
            "data may be truncated");
}

// serve_tls goes on after a client that fails its handshake (an untrusting one) and one that
// never speaks (the handshake timeout); open_tls_stream connects by name.
TEST_P(TlsTest, ServeTlsSurvivesFailedHandshakesAndOpenTlsStreamConnectsByName) {
  auto body = []() -> Task<std::string> {
    absl::StatusOr<SocketListener> listener = SocketListener::listen(loopback());
    const int port = listener->local_address().port();
    std::string reply;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        // Named, not temporaries in the co_await (GCC 12 mishandles class temporaries there).
        std::shared_ptr<const TlsContext> context = server_context();
        ServeTlsOptions options;
        options.handshake_timeout = absl::Milliseconds(100);
        auto echo_once = [](Tls& stream) -> Task<> {
          absl::StatusOr<std::string> got = co_await stream.read_some(100);
          if (got.ok()) (void)co_await stream.write_all("echo: " + *got);
          (void)co_await stream.shutdown();
        };
        (void)co_await serve_tls(*listener, context, echo_once, options);
      });
      TlsConfig untrusting;
      untrusting.ca_pem = pki().other_ca;
      absl::StatusOr<Tls> refused =
          co_await open_tls_stream("localhost", port, client_context(untrusting));
      EXPECT_TRUE(absl::IsUnauthenticated(refused.status())) << refused.status();
      absl::StatusOr<SocketStream> silent =
          co_await SocketStream::connect(listener->local_address());
      co_await sleep(absl::Milliseconds(300));  // its handshake times out meanwhile
      std::shared_ptr<const TlsContext> trusting_context = client_context();
      absl::StatusOr<Tls> good = co_await open_tls_stream("localhost", port, trusting_context);
      EXPECT_TRUE(good.ok()) << good.status();
      if (good.ok()) {
        EXPECT_TRUE((co_await good->write_all("hi")).ok());
        reply = (co_await good->read_some(100)).value_or("?");
        (void)co_await good->shutdown();
      }
      pool.cancel();
    });
    co_return reply;
  };
  EXPECT_EQ(run_here(body()), "echo: hi");
}

GIAMBIO_ON_EVERY_DRIVER(TlsTest);

// ---- Cancellation, on the virtual clock over memory streams (exact times) ----

using MemoryTls = TlsStream<MemoryStream>;

struct MemoryPair {
  MemoryTls client;
  MemoryTls server;
};

MemoryPair memory_tls(MemoryStreamOptions options) {
  auto [a, b] = memory_stream_pair(options);
  absl::StatusOr<MemoryTls> client = MemoryTls::client(std::move(a), client_context(), "localhost");
  absl::StatusOr<MemoryTls> server = MemoryTls::server(std::move(b), server_context());
  return MemoryPair{*std::move(client), *std::move(server)};
}

Task<> handshake_both(MemoryPair& p) {
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> { EXPECT_TRUE((co_await p.server.handshake()).ok()); });
    EXPECT_TRUE((co_await p.client.handshake()).ok());
  });
}

// Part of a record has arrived when the read is cancelled: no plaintext is lost, the next read
// gets it all. A relay between the two ends lets the test hold the record after 10 bytes.
TEST(TlsCancellationTest, ACancelledReadConsumesNoPlaintext) {
  auto body = []() -> Task<> {
    auto [client_end, relay_near] = memory_stream_pair();
    auto [relay_far, server_end] = memory_stream_pair();
    absl::StatusOr<MemoryTls> client =
        MemoryTls::client(std::move(client_end), client_context(), "localhost");
    absl::StatusOr<MemoryTls> server = MemoryTls::server(std::move(server_end), server_context());
    bool hold = false;  // once set, the relay forwards 10 bytes of the next chunk, then waits
    Event release;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {  // client -> server
        while (true) {
          absl::StatusOr<std::string> got = co_await relay_near.read_some(1 << 16);
          if (!got.ok() || got->empty() || !(co_await relay_far.write_all(*got)).ok()) co_return;
        }
      });
      pool.spawn([&]() -> Task<> {  // server -> client
        while (true) {
          absl::StatusOr<std::string> got = co_await relay_far.read_some(1 << 16);
          if (!got.ok() || got->empty()) co_return;
          std::string_view rest = *got;
          if (hold) {
            hold = false;
            if (!(co_await relay_near.write_all(rest.substr(0, 10))).ok()) co_return;
            rest.remove_prefix(10);
            co_await release.wait();
          }
          if (!(co_await relay_near.write_all(rest)).ok()) co_return;
        }
      });
      pool.spawn([&]() -> Task<> { EXPECT_TRUE((co_await server->handshake()).ok()); });
      EXPECT_TRUE((co_await client->handshake()).ok());
      co_await wait_all_tasks_blocked();  // the session tickets have crossed too
      hold = true;
      EXPECT_TRUE((co_await server->write_all("abc")).ok());
      std::optional<absl::StatusOr<std::string>> first =
          co_await skip_after(absl::Seconds(1), client->read_some(100));
      EXPECT_FALSE(first.has_value()) << "10 bytes of the record came, not all of it";
      EXPECT_EQ(elapsed(), absl::Seconds(1));
      release.set();
      EXPECT_EQ((co_await client->read_some(100)).value_or("?"), "abc");
      EXPECT_EQ(elapsed(), absl::Seconds(1));
      pool.cancel();
    });
  };
  run_virtual(body());
}

// A cancelled write_all says how much plaintext TLS took; exactly that reaches the peer, sent
// before the close_notify of a later shutdown().
TEST(TlsCancellationTest, ACancelledWriteSaysHowMuchPlaintextGoesOut) {
  auto body = []() -> Task<> {
    MemoryPair p = memory_tls({.capacity = 1000});
    co_await handshake_both(p);
    size_t written = 0;
    std::optional<absl::Status> done = co_await skip_after(
        absl::Seconds(1), p.client.write_all(std::string(40 * 1024, 'x'), &written));
    EXPECT_FALSE(done.has_value());
    EXPECT_EQ(written, 16384u) << "one record accepted; its ciphertext waits for room";
    std::string heard;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { EXPECT_TRUE((co_await p.client.shutdown()).ok()); });
      co_await sleep(absl::Seconds(5));  // the peer reads only now
      while (true) {
        absl::StatusOr<std::string> part = co_await p.server.read_some(64 * 1024);
        if (!part.ok() || part->empty()) break;
        heard += *part;
      }
      EXPECT_TRUE((co_await p.server.shutdown()).ok());
    });
    EXPECT_EQ(heard, std::string(written, 'x'));
  };
  run_virtual(body());
}

TEST(TlsCancellationTest, ACancelledHandshakeLeavesTheStreamUnusableAndSaysSo) {
  auto body = []() -> Task<> {
    MemoryPair p = memory_tls({});  // the server never answers
    std::optional<absl::Status> done = co_await skip_after(absl::Seconds(1), p.client.handshake());
    EXPECT_FALSE(done.has_value());
    absl::StatusOr<std::string> after = co_await p.client.read_some(10);
    EXPECT_TRUE(absl::IsFailedPrecondition(after.status())) << after.status();
    EXPECT_EQ(std::string(after.status().message()),
              "TLS handshake with localhost was cancelled: the stream is unusable");
    EXPECT_EQ(co_await p.client.write_all("x"), after.status());
  };
  run_virtual(body());
}

TEST(TlsContextTest, BadConfigurationsAreInvalidArgumentNamingTheField) {
  TlsConfig no_certificate;
  EXPECT_THAT(TlsContext::server(no_certificate).status().message(),
              HasSubstr("a server needs a certificate chain and its private key"));
  TlsConfig missing_file;
  missing_file.certificate_chain_file = "/nonexistent/chain.pem";
  missing_file.private_key_file = "/nonexistent/key.pem";
  absl::Status s = TlsContext::server(missing_file).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("certificate_chain_file '/nonexistent/chain.pem'"));
  TlsConfig mismatched;
  mismatched.certificate_chain_pem = pki().server.chain;
  mismatched.private_key_pem = pki().client.key;
  EXPECT_THAT(std::string(TlsContext::server(mismatched).status().message()),
              HasSubstr("private_key_pem: key values mismatch"));
  TlsConfig garbage;
  garbage.ca_pem = "not a certificate";
  EXPECT_THAT(TlsContext::client(garbage).status().message(),
              HasSubstr("ca_pem: no PEM certificate in it"));
  TlsConfig empty_alpn;
  empty_alpn.alpn = {""};
  EXPECT_THAT(TlsContext::client(empty_alpn).status().message(),
              HasSubstr("alpn protocol '' must be 1 to 255 bytes long"));
  TlsConfig versions;
  versions.min_version = TlsVersion::kTls13;
  versions.max_version = TlsVersion::kTls12;
  EXPECT_THAT(TlsContext::client(versions).status().message(),
              HasSubstr("min_version is above max_version"));
  EXPECT_TRUE(TlsContext::client({}).ok()) << "the system's CA store";
}

}  // namespace
}  // namespace giambio
