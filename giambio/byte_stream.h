// giambio/byte_stream.h: the one surface every giambio byte stream offers.
//
//   template <giambio::ByteStream S>
//   giambio::Task<absl::Status> echo(S& stream) {
//     while (true) {
//       absl::StatusOr<std::string> got = co_await stream.read_some(64 * 1024);
//       if (!got.ok()) co_return got.status();
//       if (got->empty()) co_return absl::OkStatus();   // end of stream
//       if (absl::Status s = co_await stream.write_all(*got); !s.ok()) co_return s;
//     }
//   }
//
// Satisfied by SocketStream (TCP and Unix sockets, on every driver and in the simulator) and
// AsyncStream (pipes, terminals, any descriptor); the TLS stream will satisfy it too and be
// written against it. The semantics every stream keeps, whatever it runs over:
//   - read(buffer): at least one byte, at most buffer.size(); 0 at end of stream. read(),
//     write() and write_all() return a Task or what stream_transfer.h defines (awaited in place,
//     converting to that Task); both are awaited the same way.
//     read_some(max_bytes): the same as a new string; "" at end of stream.
//   - write(data): at least one byte, says how many; write_all(data, &bytes_written): all of it,
//     with `bytes_written` kept up to date as it goes (what a cancelled write got out).
//   - One reader and one writer may use a stream at once (full duplex); a second concurrent
//     reader (or writer) is FailedPrecondition, as in Trio.
//   - A cancelled read consumes nothing. Every await is a cancel point.
//   - close(): closes now and wakes a waiting reader or writer with FailedPrecondition; using a
//     closed stream, or closing twice, is FailedPrecondition.
//   - Failures are absl::Status values naming the operation and the peer (or descriptor).
// HalfCloseableStream adds send_eof(): the peer reads end of stream, this side can still read
// (sockets; a pipe has no half-close).
//
// Why a concept and not an abstract class: the hot path (a read or write per message) stays a
// direct, inlinable call with no vtable and no allocation, which is what io_uring's per-message
// cost leaves room for; a layer over a stream (TLS, framing) is a template over its concept.
// Type erasure, where a program needs to hold "some stream" at run time, can be built on top
// of the concept; the reverse would cost every stream a virtual call.
#ifndef GIAMBIO_BYTE_STREAM_H_
#define GIAMBIO_BYTE_STREAM_H_

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "giambio/task.h"

namespace giambio {

class StreamTransfer;

// What read() and write() return: a Task, or a StreamTransfer (stream_transfer.h: awaited in
// place, converts to the Task). Either is awaited for an absl::StatusOr<size_t>.
template <typename A>
concept TransferAwaitable =
    std::same_as<A, Task<absl::StatusOr<size_t>>> || std::same_as<A, StreamTransfer>;

class StreamWriteAll;

// What write_all() returns: a Task, or a StreamWriteAll (stream_transfer.h); either is awaited
// for an absl::Status.
template <typename A>
concept WriteAllAwaitable = std::same_as<A, Task<absl::Status>> || std::same_as<A, StreamWriteAll>;

template <typename S>
concept ByteStream = requires(S& stream, std::span<char> into, std::span<const char> from,
                              std::string_view data, int64_t max_bytes, size_t* bytes_written) {
  { stream.read(into) } -> TransferAwaitable;
  { stream.read_some(max_bytes) } -> std::same_as<Task<absl::StatusOr<std::string>>>;
  { stream.write(from) } -> TransferAwaitable;
  { stream.write_all(data) } -> WriteAllAwaitable;
  { stream.write_all(data, bytes_written) } -> WriteAllAwaitable;
  { stream.close() } -> std::same_as<absl::Status>;
  { stream.is_open() } -> std::same_as<bool>;
};

template <typename S>
concept HalfCloseableStream = ByteStream<S> && requires(S& stream) {
  { stream.send_eof() } -> std::same_as<absl::Status>;
};

namespace internal {

// Marks one direction of a stream busy for the life of an operation (one reader, one writer),
// however the operation ends; for the streams that keep a flag (TLS, memory streams).
class BusyFlag {
 public:
  explicit BusyFlag(bool& flag) : flag_(flag) { flag_ = true; }
  BusyFlag(const BusyFlag&) = delete;
  ~BusyFlag() { flag_ = false; }

 private:
  bool& flag_;
};

// read_some on top of a stream's own read(span), for the streams layered over others (TLS,
// memory streams): `max_bytes` must be positive (InvalidArgument naming `operation`), and at
// most 1 MiB is read at once.
template <typename S>
Task<absl::StatusOr<std::string>> read_some_by_read(S& stream, int64_t max_bytes,
                                                    const char* operation) {
  if (max_bytes <= 0) {
    co_return absl::InvalidArgumentError(
        absl::StrCat(operation, "(", max_bytes, "): max_bytes must be positive"));
  }
  std::string data(static_cast<size_t>(std::min<int64_t>(max_bytes, int64_t{1} << 20)), '\0');
  absl::StatusOr<size_t> n = co_await stream.read(std::span<char>(data.data(), data.size()));
  if (!n.ok()) co_return n.status();
  data.resize(*n);
  co_return data;
}

}  // namespace internal

}  // namespace giambio

#endif  // GIAMBIO_BYTE_STREAM_H_
