// Fuzz target for giambio's TLS (giambio/tls.h): the input is what the peer sends. Its first
// byte picks giambio's role (even: server, the input is a client's flight; odd: client, the
// input is a server's), the rest goes to giambio's TlsStream over a memory stream, in pieces of
// drawn sizes, then end of stream. Checked: the handshake and the reads that follow end (a
// virtual-clock deadline, no hang), with a status when they fail, never a crash; an input that
// is not a valid TLS peer never completes a handshake with a verified certificate.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "giambio/giambio.h"
#include "giambio/tls_test_util.h"

namespace giambio {
namespace {

const testing::TestPki& pki() {
  static const testing::TestPki* const made = new testing::TestPki(testing::make_test_pki());
  return *made;
}

std::shared_ptr<const TlsContext> context(bool server) {
  TlsConfig config;
  if (server) {
    config.certificate_chain_pem = pki().server.chain;
    config.private_key_pem = pki().server.key;
  } else {
    config.ca_pem = pki().ca;
  }
  absl::StatusOr<std::shared_ptr<const TlsContext>> made =
      server ? TlsContext::server(config) : TlsContext::client(config);
  if (!made.ok()) std::abort();
  return *made;
}

Task<> run_peer(const uint8_t* data, size_t size) {
  const bool server = size > 0 && data[0] % 2 == 0;
  const size_t piece = size > 1 ? 1 + data[1] % 64 : 64;
  // Named, not a structured binding: clang 14 (the fuzzer's compiler) cannot capture those.
  std::pair<MemoryStream, MemoryStream> ends = memory_stream_pair({.capacity = 1 << 20});
  MemoryStream ours = std::move(ends.first);
  MemoryStream peer = std::move(ends.second);
  static const std::shared_ptr<const TlsContext> server_context = context(true);
  static const std::shared_ptr<const TlsContext> client_context = context(false);
  absl::StatusOr<TlsStream<MemoryStream>> tls =
      server ? TlsStream<MemoryStream>::server(std::move(ours), server_context)
             : TlsStream<MemoryStream>::client(std::move(ours), client_context, "localhost");
  if (!tls.ok()) std::abort();
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {  // the peer: sends the input, then ends its stream
      for (size_t at = size > 2 ? 2 : size; at < size; at += piece) {
        const size_t n = std::min(piece, size - at);
        if (!(co_await peer.write_all(std::string(reinterpret_cast<const char*>(data + at), n)))
                 .ok()) {
          break;
        }
      }
      (void)peer.send_eof();
      while (true) {  // and drains what giambio says
        absl::StatusOr<std::string> got = co_await peer.read_some(1 << 16);
        if (!got.ok() || got->empty()) co_return;
      }
    });
    std::optional<bool> ended = co_await skip_after(absl::Seconds(60), [&]() -> Task<bool> {
      absl::Status handshake = co_await tls->handshake();
      if (handshake.ok()) {
        // A forged peer cannot pass verification: the client only accepts the test CA's
        // certificate, which the fuzzer cannot sign for.
        if (!server) std::abort();
        while (true) {
          absl::StatusOr<std::string> got = co_await tls->read_some(1 << 16);
          if (!got.ok() || got->empty()) break;
        }
      } else if (handshake.message().empty()) {
        std::abort();  // a failure must say what failed
      }
      co_return true;
    }());
    if (!ended.has_value()) std::abort();  // hung: the input ran out and TLS still waited
    (void)tls->close();
    (void)peer.close();
  });
}

}  // namespace
}  // namespace giambio

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  giambio::RunOptions options;
  options.driver = giambio::DriverKind::kVirtual;
  giambio::run(giambio::run_peer(data, size), std::move(options));
  return 0;
}
