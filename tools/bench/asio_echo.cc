// tools/bench/asio_echo.cc: the same echo server in Asio with C++20 coroutines, what a C++ user
// would reach for instead of giambio.
//
//   asio_echo --port=0      # prints "listening on 127.0.0.1:PORT"
// GCC 12 at -O1 (the ASan config) reports Asio's own awaitable-frame allocator as a mismatched
// new/delete, at our coroutines' lines; it is a false positive inside Asio.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
// Under TSan, GCC warns that Asio's atomic_thread_fence is not instrumented; only the benchmark
// uses Asio, and it does not run under TSan.
#pragma GCC diagnostic ignored "-Wtsan"

#include <asio.hpp>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(int, port, 9300, "Port to listen on (0: any).");

namespace {

using asio::ip::tcp;

asio::awaitable<void> echo(tcp::socket socket) {
  char data[16384];
  try {
    while (true) {
      const size_t n = co_await socket.async_read_some(asio::buffer(data), asio::use_awaitable);
      co_await asio::async_write(socket, asio::buffer(data, n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
    // the client went away
  }
}

asio::awaitable<void> serve(tcp::acceptor& acceptor) {
  while (true) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  asio::io_context context(1);
  tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::address_v4::loopback(),
                                                static_cast<uint16_t>(absl::GetFlag(FLAGS_port))));
  std::printf("listening on 127.0.0.1:%d\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  asio::co_spawn(context, serve(acceptor), asio::detached);
  context.run();
}
