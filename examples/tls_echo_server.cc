// examples/tls_echo_server.cc: giambio's echo server (examples/echo.h) over TLS.
//
//   bazel run //examples:tls_echo_server -- --port=9443 --cert=chain.pem --key=key.pem
//   openssl s_client -connect 127.0.0.1:9443 -CAfile ca.pem -servername localhost -quiet
//
// Prints "listening on HOST:PORT" once ready. --cert is the certificate chain (leaf first) and
// --key its private key, both PEM; a bad file exits with status 2 and OpenSSL's reason.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/echo.h"
#include "examples/program.h"
#include "examples/user_path.h"
#include "giambio/tls.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 9443, "Port to listen on (0: any free port).");
ABSL_FLAG(std::string, cert, "", "PEM certificate chain, leaf first.");
ABSL_FLAG(std::string, key, "", "PEM private key of the certificate.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  giambio::TlsConfig config;
  // Relative paths are the user's, not the runfiles tree's (user_path.h).
  config.certificate_chain_file = giambio::examples::user_path(absl::GetFlag(FLAGS_cert));
  config.private_key_file = giambio::examples::user_path(absl::GetFlag(FLAGS_key));
  absl::StatusOr<std::shared_ptr<const giambio::TlsContext>> context =
      giambio::TlsContext::server(config);
  if (!context.ok()) {
    std::fprintf(stderr, "tls_echo_server: %s\n", context.status().ToString().c_str());
    return 2;
  }
  return giambio::examples::server_main(
      "tls_echo_server", absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
      [context = *context](giambio::SocketListener& listener, const giambio::ServeOptions& serve) {
        giambio::ServeTlsOptions options;
        options.serve = serve;
        return giambio::examples::serve_tls_echo(listener, context, options);
      });
}
