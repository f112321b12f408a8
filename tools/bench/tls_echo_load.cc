// tools/bench/tls_echo_load.cc: the load generator of echo_bench's TLS row.
//
//   tls_echo_load --port=9443 --ca=chain.pem --connections=64 --message_bytes=4096 --seconds=3
//
// Opens N TLS 1.3 connections to an echo server on loopback (giambio's TLS client on io_uring:
// the same client for every server measured), each sending a message and waiting for it to come
// back, over and over. Prints "messages_per_second=N": round trips after 0.5 s of warm-up.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "giambio/giambio.h"

ABSL_FLAG(int, port, 9443, "TLS echo server port on 127.0.0.1.");
ABSL_FLAG(std::string, ca, "", "PEM file of the CA (or self-signed certificate) to trust.");
ABSL_FLAG(int, connections, 64, "Concurrent connections.");
ABSL_FLAG(int, message_bytes, 4096, "Bytes per message.");
ABSL_FLAG(double, seconds, 3.0, "Measured duration (after 0.5 s of warm-up).");

namespace {

using giambio::Task;
using Tls = giambio::TlsStream<giambio::SocketStream>;

Task<> client(std::shared_ptr<const giambio::TlsContext> context, int port, size_t bytes,
              const bool& measuring, const bool& stop, int64_t& round_trips) {
  absl::StatusOr<Tls> tls = co_await giambio::open_tls_stream("127.0.0.1", port, context);
  if (!tls.ok()) {
    std::fprintf(stderr, "tls_echo_load: %s\n", tls.status().ToString().c_str());
    co_return;
  }
  (void)tls->transport().set_nodelay(true);
  const std::string message(bytes, 'm');
  std::string buffer(bytes, '\0');
  while (!stop) {
    if (!(co_await tls->write_all(message)).ok()) co_return;
    size_t got = 0;
    while (got < bytes) {
      absl::StatusOr<size_t> n = co_await tls->read(std::span<char>(buffer.data(), bytes - got));
      if (!n.ok() || *n == 0) co_return;
      got += *n;
    }
    if (measuring) ++round_trips;
  }
  (void)tls->close();
}

Task<double> load() {
  std::ifstream file(absl::GetFlag(FLAGS_ca));
  std::stringstream ca;
  ca << file.rdbuf();
  giambio::TlsConfig config;
  config.ca_pem = ca.str();
  absl::StatusOr<std::shared_ptr<const giambio::TlsContext>> context =
      giambio::TlsContext::client(config);
  if (!context.ok()) {
    std::fprintf(stderr, "tls_echo_load: %s\n", context.status().ToString().c_str());
    co_return 0;
  }
  bool measuring = false;
  bool stop = false;
  int64_t round_trips = 0;
  double rate = 0;
  co_await giambio::with_pool([&](giambio::Pool& pool) -> Task<> {
    for (int i = 0; i < absl::GetFlag(FLAGS_connections); ++i) {
      pool.spawn(client(*context, absl::GetFlag(FLAGS_port),
                        static_cast<size_t>(absl::GetFlag(FLAGS_message_bytes)), measuring, stop,
                        round_trips));
    }
    co_await giambio::sleep(absl::Milliseconds(500));
    measuring = true;
    const auto start = std::chrono::steady_clock::now();
    co_await giambio::sleep(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rate = static_cast<double>(round_trips) / elapsed;
    stop = true;
    pool.cancel();
  });
  co_return rate;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  giambio::RunOptions options;
  options.driver = giambio::DriverKind::kUring;
  const double rate = giambio::run(load(), std::move(options));
  std::printf("messages_per_second=%.0f\n", rate);
  return rate > 0 ? 0 : 1;
}
