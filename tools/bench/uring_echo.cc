// tools/bench/uring_echo.cc: a bare liburing echo server, the baseline that shows this
// machine's practical limit: no framework, one ring, recv then send per connection, all
// submissions of a turn in one io_uring_submit_and_wait, the setup flags giambio uses and a
// registered ring descriptor.
//
//   uring_echo --port=0      # prints "listening on 127.0.0.1:PORT"
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(int, port, 9100, "Port to listen on (0: any).");

namespace {

constexpr size_t kBufferBytes = 16384;

struct Connection {
  explicit Connection(int socket) : fd(socket) {}
  int fd;
  bool sending = false;
  int length = 0;  // bytes being sent back
  char buffer[kBufferBytes] = {};
};

io_uring ring;

void recv_on(Connection* c) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_recv(sqe, c->fd, c->buffer, kBufferBytes, 0);
  c->sending = false;
  io_uring_sqe_set_data(sqe, c);
}

void send_on(Connection* c, int offset) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_send(sqe, c->fd, c->buffer + offset, c->length - offset, MSG_NOSIGNAL);
  c->sending = true;
  io_uring_sqe_set_data(sqe, c);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(absl::GetFlag(FLAGS_port)));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 1024) != 0) {
    std::perror("uring_echo: bind/listen");
    return 1;
  }
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  // The setup flags giambio's driver asks for (fewer interrupts for task work; completions posted
  // only when this thread asks), dropping the newest first where the kernel lacks them; and the
  // ring's descriptor registered, as giambio's driver does.
  const unsigned wanted[] = {IORING_SETUP_SUBMIT_ALL, IORING_SETUP_COOP_TASKRUN,
                             IORING_SETUP_TASKRUN_FLAG, IORING_SETUP_SINGLE_ISSUER,
                             IORING_SETUP_DEFER_TASKRUN};
  int result = -1;
  for (size_t n = std::size(wanted); n > 0 && result != 0; --n) {
    io_uring_params params{};
    for (size_t i = 0; i < n; ++i) params.flags |= wanted[i];
    result = io_uring_queue_init_params(4096, &ring, &params);
  }
  if (result != 0 && io_uring_queue_init(4096, &ring, 0) != 0) {
    std::perror("uring_echo: io_uring_queue_init");
    return 1;
  }
  (void)io_uring_register_ring_fd(&ring);
  std::printf("listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  std::fflush(stdout);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_multishot_accept(sqe, listener, nullptr, nullptr, 0);
  io_uring_sqe_set_data(sqe, nullptr);
  while (true) {
    io_uring_submit_and_wait(&ring, 1);
    io_uring_cqe* cqe;
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      auto* c = static_cast<Connection*>(io_uring_cqe_get_data(cqe));
      if (c == nullptr) {  // a new connection from the multishot accept
        if (cqe->res >= 0) {
          auto* fresh = new Connection(cqe->res);
          recv_on(fresh);
        }
        continue;
      }
      if (cqe->res <= 0) {
        close(c->fd);
        delete c;
      } else if (!c->sending) {
        c->length = cqe->res;
        send_on(c, 0);
      } else if (cqe->res < c->length) {
        std::copy(c->buffer + cqe->res, c->buffer + c->length, c->buffer);
        c->length -= cqe->res;
        send_on(c, 0);
      } else {
        recv_on(c);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}
