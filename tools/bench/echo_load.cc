// tools/bench/echo_load.cc: the echo benchmark's load generator.
//
//   echo_load --port=9000 --connections=64 --message_bytes=64 --seconds=3
//
// Opens N connections to an echo server on loopback; each sends a message, waits for all of it
// to come back, and sends the next (one message in flight per connection). It runs on one
// thread with raw epoll so that its own cost is small and the same for every server, and
// prints one line: "messages_per_second=N" (round trips completed after a short warm-up).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(int, port, 9000, "Echo server port on 127.0.0.1.");
ABSL_FLAG(int, connections, 64, "Concurrent connections (1..10000).");
ABSL_FLAG(int, message_bytes, 64, "Bytes per message (1..1048576).");
ABSL_FLAG(double, seconds, 3.0, "Measured duration (after 0.5 s of warm-up).");

namespace {

struct Connection {
  int fd = -1;
  size_t sent = 0;      // bytes of the current message written
  size_t received = 0;  // bytes of it echoed back
};

int fail(const char* what) {
  std::fprintf(stderr, "echo_load: %s: %s\n", what, std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int port = absl::GetFlag(FLAGS_port);
  const int count = absl::GetFlag(FLAGS_connections);
  const int size = absl::GetFlag(FLAGS_message_bytes);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  if (port <= 0 || port > 65535 || count < 1 || count > 10000 || size < 1 || size > (1 << 20) ||
      !(seconds > 0)) {
    std::fprintf(stderr,
                 "echo_load: --port (1..65535), --connections (1..10000), --message_bytes "
                 "(1..1048576) and --seconds (> 0) are out of range\n");
    return 2;
  }
  const int epoll_fd = epoll_create1(0);
  std::vector<Connection> connections(count);
  std::vector<char> message(size, 'm');
  std::vector<char> buffer(size);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < count; ++i) {
    Connection& c = connections[i];
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      return fail("connect");
    }
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.fd, &event);
    if (write(c.fd, message.data(), size) != size) return fail("write");
    c.sent = size;
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::milliseconds(500);
  const auto end = measure_from + std::chrono::duration<double>(seconds);
  long long round_trips = 0;
  std::vector<epoll_event> events(1024);
  for (auto now = Clock::now(); now < end; now = Clock::now()) {
    const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      Connection& c = connections[events[e].data.u32];
      const ssize_t got = read(c.fd, buffer.data(), size - c.received);
      if (got <= 0) return fail("read (did the server close?)");
      c.received += static_cast<size_t>(got);
      if (c.received < static_cast<size_t>(size)) continue;
      c.received = 0;
      if (now >= measure_from) ++round_trips;
      if (write(c.fd, message.data(), size) != size) return fail("write");
    }
  }
  std::printf("messages_per_second=%.0f\n", static_cast<double>(round_trips) / seconds);
  for (Connection& c : connections) close(c.fd);
  return 0;
}
