// tools/bench/epoll_echo.cc: a bare epoll echo server, the readiness-model baseline: no
// framework, level-triggered, read then write on each readable socket.
//
//   epoll_echo --port=0      # prints "listening on 127.0.0.1:PORT"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(int, port, 9200, "Port to listen on (0: any).");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(absl::GetFlag(FLAGS_port)));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 1024) != 0) {
    std::perror("epoll_echo: bind/listen");
    return 1;
  }
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::printf("listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  std::fflush(stdout);
  const int epoll_fd = epoll_create1(0);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = listener;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &event);
  std::vector<epoll_event> events(1024);
  std::vector<char> buffer(16384);
  while (true) {
    const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listener) {
        for (int client; (client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.fd = client;
          epoll_ctl(epoll_fd, EPOLL_CTL_ADD, client, &e);
        }
        continue;
      }
      const ssize_t got = read(fd, buffer.data(), buffer.size());
      if (got <= 0) {
        close(fd);
        continue;
      }
      // Loopback echo of small messages: the send buffer has room, so writes complete.
      for (ssize_t sent = 0; sent < got;) {
        const ssize_t w = write(fd, buffer.data() + sent, got - sent);
        if (w < 0) break;
        sent += w;
      }
    }
  }
}
