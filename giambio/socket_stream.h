// giambio/socket_stream.h: stream sockets (TCP and Unix) and their listeners, the same on every
// driver.
//
//   absl::StatusOr<SocketListener> listener =
//       SocketListener::listen(*SocketAddress::parse("::1", 0));
//   absl::StatusOr<SocketStream> client =
//       co_await SocketStream::connect(listener->local_address());
//   absl::StatusOr<SocketStream> server = co_await listener->accept();
//   co_await client->write_all("ping");
//   absl::StatusOr<std::string> got = co_await server->read_some(4096);   // "" at end of stream
//
// Every failure is a status naming the operation and the peer or address:
// "connect(127.0.0.1:1): Connection refused". Using a closed stream is FailedPrecondition ("recv:
// the stream is closed"); so is a second task reading (or writing) while another one does, as in
// Trio.
//
// Cancellation (every await here is a cancel point):
//   - a cancelled read has consumed nothing: no byte is lost;
//   - a cancelled write_all says how much went out through `bytes_written`, which it keeps up to
//     date as it goes;
//   - a cancelled connect or accept leaves nothing open.
// Closing a stream while another task waits on it wakes that task with FailedPrecondition.
//
// The same classes serve Unix stream sockets: listen on and connect to a
// SocketAddress::unix_path(...), or make a connected pair with socket_pair().
//
// SocketStream is a giambio byte stream (byte_stream.h: read, read_some, write, write_all,
// send_eof, close), so code written against that surface, TLS included, runs over it, over
// AsyncStream and over the simulator's sockets alike. Streams and listeners belong to the loop
// thread; they close on destruction.
#ifndef GIAMBIO_SOCKET_STREAM_H_
#define GIAMBIO_SOCKET_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/byte_stream.h"
#include "giambio/internal/io_operation.h"
#include "giambio/internal/stream_core.h"
#include "giambio/socket_address.h"
#include "giambio/stream_transfer.h"
#include "giambio/task.h"

namespace giambio {

class SocketStream {
 public:
  SocketStream() = default;
  // Takes ownership of a connected, non-blocking socket.
  explicit SocketStream(int fd) : core_(OpKind::kReceive, OpKind::kSend, fd) {}

  static Task<absl::StatusOr<SocketStream>> connect(SocketAddress address);

  // Reads what is available, at least one byte, at most buffer.size(); 0 at end of stream.
  // read(), write() and write_all() are awaited in place (stream_transfer.h): co_await them
  // where they are called; they convert to a Task where one is needed.
  StreamTransfer read(std::span<char> buffer) { return core_.read(buffer, describe); }
  // The same into a new string of at most `max_bytes` (> 0), and at most 1 MiB at once
  // (internal::kReadSomeLimit); "" at end of stream.
  Task<absl::StatusOr<std::string>> read_some(int64_t max_bytes);
  // Writes some of `data` (at least one byte) and says how much.
  StreamTransfer write(std::span<const char> data) { return core_.write(data, describe); }
  // Writes all of `data`. `bytes_written`, if given, always holds how much went out so far.
  StreamWriteAll write_all(std::string_view data, size_t* bytes_written = nullptr) {
    return core_.write_all(data, bytes_written, describe);
  }

  // Half-close (shutdown(SHUT_WR)): the peer reads end of stream; this side can still read.
  absl::Status send_eof();
  // Closes now; a second close is FailedPrecondition.
  absl::Status close();
  bool is_open() const { return core_.fd() >= 0; }

  absl::Status set_nodelay(bool on);
  absl::StatusOr<SocketAddress> local_address() const;
  absl::StatusOr<SocketAddress> peer_address() const;
  int fd() const { return core_.fd(); }

 private:
  // What error messages name: the peer if known, else the descriptor.
  static std::string describe(int fd);
  internal::StreamCore core_{OpKind::kReceive, OpKind::kSend};
};

// Two connected Unix stream sockets (socketpair(2)), e.g. to talk to a child process or between
// two parts of one program.
absl::StatusOr<std::pair<SocketStream, SocketStream>> socket_pair();

struct ListenOptions {
  // Connections the kernel holds until they are accepted (capped by net.core.somaxconn). Large
  // by default, as in Trio and Go: with 128, a burst of 10,000 connections overflowed it and
  // paid SYN retransmits (14 s instead of 0.4 s in load_test).
  int backlog = 4096;
  bool reuse_address = true;
  bool reuse_port = false;
};

class SocketListener {
 public:
  SocketListener() = default;
  SocketListener(SocketListener&& other) noexcept;
  SocketListener& operator=(SocketListener&& other) noexcept;
  ~SocketListener();

  // Binds and listens. Port 0 picks a free port (see local_address()).
  static absl::StatusOr<SocketListener> listen(const SocketAddress& address,
                                               ListenOptions options = {});

  // On io_uring, the first accept arms a request that goes on accepting into the loop's queue:
  // accept on one loop only (a listener handed to another loop after accepting loses the
  // connections the first loop's request takes; threads.h).
  Task<absl::StatusOr<SocketStream>> accept();
  const SocketAddress& local_address() const { return local_address_; }
  absl::Status close();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  SocketAddress local_address_;
  internal::IoOperation* accepting_ = nullptr;
};

}  // namespace giambio

#endif  // GIAMBIO_SOCKET_STREAM_H_
