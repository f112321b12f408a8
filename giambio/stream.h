// giambio/stream.h: AsyncStream, non-blocking reads and writes on any stream descriptor
// (giambio's AsyncStream): pipes, terminals, character devices, sockets giambio did not open.
//
//   int fds[2]; pipe(fds);
//   giambio::AsyncStream in(fds[0]), out(fds[1]);      // takes ownership, sets O_NONBLOCK
//   co_await out.write_all("line\n");
//   absl::StatusOr<std::string> got = co_await in.read_some(4096);   // "" at end of stream
//
// Same rules as SocketStream (socket_stream.h), over the same core: statuses naming the operation
// and the descriptor; one reader and one writer at a time; a cancelled read consumes nothing;
// write_all reports progress through `bytes_written`; closing wakes a task waiting on the stream
// with FailedPrecondition. It is a giambio byte stream (byte_stream.h) without send_eof (a pipe
// has no half-close: close its write end).
#ifndef GIAMBIO_STREAM_H_
#define GIAMBIO_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/byte_stream.h"
#include "giambio/internal/stream_core.h"
#include "giambio/task.h"

namespace giambio {

class AsyncStream {
 public:
  AsyncStream() = default;
  // Takes ownership of `fd` and makes it non-blocking.
  explicit AsyncStream(int fd);

  // Reads what is available, at least one byte, at most buffer.size(); 0 at end of stream.
  StreamTransfer read(std::span<char> buffer);  // awaited in place (stream_transfer.h)
  // At most `max_bytes` (> 0; at most 1 MiB at once) of what is available; "" at end of stream.
  Task<absl::StatusOr<std::string>> read_some(int64_t max_bytes);
  // Writes some of `data` (at least one byte) and says how much.
  StreamTransfer write(std::span<const char> data);  // awaited in place
  // Writes all of `data`. `bytes_written`, if given, always holds how much went out so far.
  StreamWriteAll write_all(std::string_view data, size_t* bytes_written = nullptr);  // in place
  absl::Status close();
  bool is_open() const { return core_.fd() >= 0; }
  int fd() const { return core_.fd(); }

 private:
  internal::StreamCore core_{OpKind::kRead, OpKind::kWrite};
};

}  // namespace giambio

#endif  // GIAMBIO_STREAM_H_
