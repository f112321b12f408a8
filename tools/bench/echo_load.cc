// tools/bench/echo_load.cc: the echo benchmark's load generator.
//
//   echo_load --port=9000 --connections=64 --message_bytes=64 --seconds=3 [--pipeline=1]
//
// Opens N connections to an echo server on loopback. Each keeps `pipeline` messages in flight:
// it sends them, and sends one more for every message that has fully come back. It runs on one
// thread with io_uring, one io_uring_enter per turn for all connections, so that its cost per
// message is small (smaller than any server's, which must also read and write every message)
// and the same for every server. It prints "messages_per_second=N", the round trips completed
// after a short warm-up, and "messages_total=N", all of them, the warm-up's too (what a server's
// CPU time and syscalls over the whole run are divided by).
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(int, port, 9000, "Echo server port on 127.0.0.1.");
ABSL_FLAG(int, connections, 64, "Concurrent connections (1..10000).");
ABSL_FLAG(int, message_bytes, 64, "Bytes per message (1..1048576).");
ABSL_FLAG(int, pipeline, 1, "Messages in flight per connection (1..64).");
ABSL_FLAG(double, seconds, 3.0, "Measured duration (after 0.5 s of warm-up).");

namespace {

// user_data of a completion: the connection's index, and whether it was the send.
constexpr uint64_t kSendTag = uint64_t{1} << 32;

struct Connection {
  int fd = -1;
  std::vector<char> input;  // the armed receive's buffer
  size_t received = 0;      // bytes of the message now coming back
  size_t unsent = 0;        // bytes owed to the server, beyond the send in flight
  size_t sending = 0;       // bytes of the send in flight (0: none)
};

class Load {
 public:
  Load(std::vector<Connection>& connections, size_t size, size_t pipeline)
      : connections_(connections), size_(size), message_(size * pipeline, 'm') {}

  int init(unsigned entries) {
    // Fewer kernel round trips where the kernel allows; plain setup otherwise.
    io_uring_params params{};
    params.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;
    if (io_uring_queue_init_params(entries, &ring_, &params) == 0) return 0;
    return io_uring_queue_init(entries, &ring_, 0);
  }

  void receive(uint32_t index) {
    Connection& c = connections_[index];
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_recv(sqe, c.fd, c.input.data(), c.input.size(), 0);
    io_uring_sqe_set_data64(sqe, index);
  }

  // Sends what `index` owes, unless a send is already in flight (one at a time keeps the byte
  // stream in order).
  void send(uint32_t index) {
    Connection& c = connections_[index];
    if (c.sending != 0 || c.unsent == 0) return;
    c.sending = std::min(c.unsent, message_.size());
    c.unsent -= c.sending;
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_send(sqe, c.fd, message_.data(), c.sending, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, kSendTag | index);
  }

  // Submits what is queued, waits for a completion and handles all there are. Returns
  // the round trips completed, or -1 when a connection failed.
  long long turn() {
    // Wait at most 100 ms, so that a server that stops answering cannot hold the run past its end.
    __kernel_timespec timeout{.tv_sec = 0, .tv_nsec = 100'000'000};
    io_uring_cqe* cqe;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
    long long round_trips = 0;
    unsigned head;
    unsigned seen = 0;
    bool failed = false;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const uint32_t index = static_cast<uint32_t>(cqe->user_data);
      Connection& c = connections_[index];
      if (cqe->res <= 0) {
        std::fprintf(stderr, "echo_load: %s on connection %u: %s\n",
                     cqe->user_data & kSendTag ? "send" : "recv (did the server close?)", index,
                     cqe->res == 0 ? "end of stream" : std::strerror(-cqe->res));
        failed = true;
        continue;
      }
      if (cqe->user_data & kSendTag) {
        c.unsent += c.sending - static_cast<size_t>(cqe->res);  // a short send owes the rest
        c.sending = 0;
      } else {
        c.received += static_cast<size_t>(cqe->res);
        const size_t messages = c.received / size_;
        c.received %= size_;
        round_trips += static_cast<long long>(messages);
        c.unsent += messages * size_;
        receive(index);
      }
      send(index);
    }
    io_uring_cq_advance(&ring_, seen);
    return failed ? -1 : round_trips;
  }

 private:
  io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {  // the submission queue is full: hand it to the kernel
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  std::vector<Connection>& connections_;
  size_t size_;
  std::vector<char> message_;  // `pipeline` messages' worth of bytes to send from
  io_uring ring_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int port = absl::GetFlag(FLAGS_port);
  const int count = absl::GetFlag(FLAGS_connections);
  const int size = absl::GetFlag(FLAGS_message_bytes);
  const int pipeline = absl::GetFlag(FLAGS_pipeline);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  if (port <= 0 || port > 65535 || count < 1 || count > 10000 || size < 1 || size > (1 << 20) ||
      pipeline < 1 || pipeline > 64 || !(seconds > 0)) {
    std::fprintf(stderr,
                 "echo_load: --port (1..65535), --connections (1..10000), --message_bytes "
                 "(1..1048576), --pipeline (1..64) and --seconds (> 0) are out of range\n");
    return 2;
  }
  std::vector<Connection> connections(count);
  Load load(connections, static_cast<size_t>(size), static_cast<size_t>(pipeline));
  // Two requests per connection at most (a receive and a send); the completion queue is twice
  // the submission queue, so every completion has room.
  const unsigned entries = std::min(32768u, std::bit_ceil(2u * static_cast<unsigned>(count)));
  if (const int error = load.init(entries); error < 0) {
    std::fprintf(stderr, "echo_load: io_uring_queue_init: %s\n", std::strerror(-error));
    return 1;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < count; ++i) {
    Connection& c = connections[i];
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      std::fprintf(stderr, "echo_load: connect: %s\n", std::strerror(errno));
      return 1;
    }
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c.input.resize(static_cast<size_t>(size) * static_cast<size_t>(pipeline));
    c.unsent = c.input.size();
    load.receive(static_cast<uint32_t>(i));
    load.send(static_cast<uint32_t>(i));
  }
  using Clock = std::chrono::steady_clock;
  const auto measure_from = Clock::now() + std::chrono::milliseconds(500);
  const auto end = measure_from + std::chrono::duration<double>(seconds);
  long long round_trips = 0;
  long long all_round_trips = 0;  // the warm-up's too
  for (auto now = Clock::now(); now < end; now = Clock::now()) {
    const long long completed = load.turn();
    if (completed < 0) return 1;
    all_round_trips += completed;
    if (now >= measure_from) round_trips += completed;
  }
  std::printf("messages_per_second=%.0f\nmessages_total=%lld\n",
              static_cast<double>(round_trips) / seconds, all_round_trips);
  for (Connection& c : connections) close(c.fd);
  return 0;
}
