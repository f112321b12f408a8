// tools/bench/asio_tls_echo.cc: the echo server in Asio over TLS (asio::ssl::stream, the same
// OpenSSL as giambio), the comparison point of echo_bench's TLS row.
//
//   asio_tls_echo --port=0 --cert=chain.pem --key=key.pem   # prints "listening on 127.0.0.1:PORT"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#pragma GCC diagnostic ignored "-Wtsan"

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(int, port, 9301, "Port to listen on (0: any).");
ABSL_FLAG(std::string, cert, "", "PEM certificate chain.");
ABSL_FLAG(std::string, key, "", "PEM private key.");

namespace {

using asio::ip::tcp;

asio::awaitable<void> echo(tcp::socket socket, asio::ssl::context& tls) {
  asio::ssl::stream<tcp::socket> stream(std::move(socket), tls);
  char data[16384];
  try {
    co_await stream.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
    while (true) {
      const size_t n = co_await stream.async_read_some(asio::buffer(data), asio::use_awaitable);
      co_await asio::async_write(stream, asio::buffer(data, n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
    // the client went away
  }
}

asio::awaitable<void> serve(tcp::acceptor& acceptor, asio::ssl::context& tls) {
  while (true) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket), tls), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  asio::ssl::context tls(asio::ssl::context::tls_server);
  tls.use_certificate_chain_file(absl::GetFlag(FLAGS_cert));
  tls.use_private_key_file(absl::GetFlag(FLAGS_key), asio::ssl::context::pem);
  asio::io_context context(1);
  tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::address_v4::loopback(),
                                                static_cast<uint16_t>(absl::GetFlag(FLAGS_port))));
  std::printf("listening on 127.0.0.1:%d\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  asio::co_spawn(context, serve(acceptor, tls), asio::detached);
  context.run();
}
