// giambio/stream_transfer.h: what SocketStream's and AsyncStream's read() and write() return —
// one read or one write, awaited in place:
//
//   absl::StatusOr<size_t> n = co_await stream.read(buffer);     // 0 at end of stream
//   absl::StatusOr<size_t> sent = co_await stream.write(data);   // at least one byte
//
// It behaves as a Task<absl::StatusOr<size_t>> would (byte_stream.h's semantics: the checks, one
// reader and one writer, a cancelled read consumes nothing, close() wakes it), but awaiting it
// makes no coroutine frame: its operation lives in the awaiting coroutine's frame and the task
// resumes straight into the caller. That is a frame and two resumes fewer per read, which is
// most of what a message costs in user space on io_uring (docs/benchmarks.md).
//
// Await it once, where it is made (as above). Where a Task is wanted it converts to one:
// `Task<absl::StatusOr<size_t>> t = stream.read(buffer);`, and with_timeout / skip_after
// (timeouts.h) take it as they take a Task. It refers to its stream, which must outlive it.
// Works on every driver and in the simulator (it is the stream's own operation).
#ifndef GIAMBIO_STREAM_TRANSFER_H_
#define GIAMBIO_STREAM_TRANSFER_H_

#include <coroutine>
#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/driver.h"
#include "giambio/internal/io_operation.h"
#include "giambio/task.h"

namespace giambio {

namespace internal {
class StreamCore;
}

class [[nodiscard]] StreamTransfer {
 public:
  using result_type = absl::StatusOr<size_t>;
  // What error messages name, from the stream's descriptor: its peer, or "fd=N".
  using Describe = std::string (*)(int fd);

  StreamTransfer(internal::StreamCore& core, OpKind kind, std::span<char> buffer, Describe describe)
      : core_(&core), kind_(kind), buffer_(buffer), describe_(describe) {}
  // Movable until awaited (the operation is made when the await begins).
  StreamTransfer(StreamTransfer&& other);
  StreamTransfer& operator=(StreamTransfer&&) = delete;
  // A frame destroyed while it waits (a loop's teardown) leaves no dangling busy slot.
  ~StreamTransfer();

  bool await_ready();
  bool await_suspend(std::coroutine_handle<> caller);
  result_type await_resume();

  // The same read or write as a Task, for the calls that take one.
  operator Task<result_type>() && { return as_task(std::move(*this)); }

 private:
  static Task<result_type> as_task(StreamTransfer transfer);

  internal::StreamCore* core_;
  OpKind kind_;
  std::span<char> buffer_;
  Describe describe_;
  bool started_ = false;
  absl::Status refused_;  // set by await_ready: the stream was closed or busy, or bad input
  std::optional<internal::IoOperation> op_;
};

}  // namespace giambio

#endif  // GIAMBIO_STREAM_TRANSFER_H_
