// giambio/stream_transfer.h: what SocketStream's and AsyncStream's read(), write() and
// write_all() return — one read, one write or a whole write_all, awaited in place:
//
//   absl::StatusOr<size_t> n = co_await stream.read(buffer);     // 0 at end of stream
//   absl::StatusOr<size_t> sent = co_await stream.write(data);   // at least one byte
//   absl::Status done = co_await stream.write_all(data);         // StreamWriteAll, below
//
// Each behaves as the Task it replaces would (byte_stream.h's semantics: the checks, one reader
// and one writer, a cancelled read consumes nothing, a cancelled write_all says how much went
// out, close() wakes the waiting task), but awaiting it makes no coroutine frame: it awaits the
// stream's own operation for that direction (reused by every read, or every write), the task
// resumes straight into the caller, and write_all's later rounds are submitted from the
// completion of the one before (IoOperation::go_on_with) without resuming the task in between.
// A message read and written back costs two resumes instead of six (docs/benchmarks.md has what
// that saves).
//
// Await it once, where it is made (as above). Where a Task is wanted it converts to one:
// `Task<absl::StatusOr<size_t>> t = stream.read(buffer);`, and with_timeout / skip_after
// (timeouts.h), CancelScope::run and Pool::spawn take it as they take a Task. It refers to its
// stream and its buffer, which must outlive it. Works on every driver and in the simulator (it is
// the stream's own operation).
#ifndef GIAMBIO_STREAM_TRANSFER_H_
#define GIAMBIO_STREAM_TRANSFER_H_

#include <coroutine>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

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

  // `reading`: a read (the stream's reader slot), else a write.
  StreamTransfer(internal::StreamCore& core, OpKind kind, bool reading, std::span<char> buffer,
                 Describe describe)
      : core_(&core), buffer_(buffer), describe_(describe), kind_(kind), reading_(reading) {}
  // Movable until awaited (the operation is made when the await begins).
  StreamTransfer(StreamTransfer&& other);
  StreamTransfer& operator=(StreamTransfer&&) = delete;
  // A frame destroyed while it waits (a loop's teardown) leaves no dangling busy slot.
  ~StreamTransfer() {
    if (op_ != nullptr && slot() == op_) slot() = nullptr;
  }

  // The awaiting steps are inline (defined in internal/stream_core.h, which they need): a read
  // and a write per message pass through them.
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> caller);
  result_type await_resume();

  // The same read or write as a Task, for the calls that take one.
  operator Task<result_type>() && { return as_task(std::move(*this)); }

 private:
  friend class StreamWriteAll;
  static Task<result_type> as_task(StreamTransfer transfer);
  // write_all's rounds (IoOperation::More): the next round, unless this one was the last.
  static bool next_round(internal::IoOperation& op, int64_t result, void* self);
  // The stream's reader or writer slot, which this transfer's operation occupies while it waits.
  internal::IoOperation*& slot();
  // Why await_suspend answered at once without an operation; await_resume makes the error.
  enum class Refusal : uint8_t { kNone, kClosed, kBusy, kEmptyRead };
  // Why await_suspend starts no operation, out of line: throws UsageError on a second await,
  // else records the refusal (none for an empty write: 0 bytes, at once).
  void refuse();
  result_type refusal_error() const;
  result_type finish(int64_t result);  // the errors, and write_all's count
  // write_all: `bytes` more went out; `bytes_written` says so.
  void count_sent(size_t bytes) {
    sent_ += bytes;
    if (bytes_written_ != nullptr) *bytes_written_ = sent_;
  }

  internal::StreamCore* core_;
  std::span<char> buffer_;
  Describe describe_;
  size_t sent_ = 0;                  // write_all: bytes the rounds before this one wrote
  size_t* bytes_written_ = nullptr;  // write_all: where progress goes, if anywhere
  OpKind kind_;
  bool reading_;
  bool started_ = false;
  bool all_ = false;  // write_all: every byte, in rounds, with progress
  Refusal refused_ = Refusal::kNone;
  // The stream's operation for this direction, once the await has begun (StreamCore::operation).
  internal::IoOperation* op_ = nullptr;
};

// What write_all() returns: every byte of `data`, in as many writes as it takes, awaited in
// place like a StreamTransfer; its rounds go on without resuming the caller in between.
// `bytes_written` (if given) always says how much went out, also when a cancellation or an
// error ends it. Converts to the Task<absl::Status> it stands for.
class [[nodiscard]] StreamWriteAll {
 public:
  using result_type = absl::Status;

  StreamWriteAll(internal::StreamCore& core, OpKind kind, std::string_view data,
                 size_t* bytes_written, StreamTransfer::Describe describe)
      : transfer_(core, kind, /*reading=*/false, {const_cast<char*>(data.data()), data.size()},
                  describe) {
    transfer_.all_ = true;
    transfer_.bytes_written_ = bytes_written;
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> caller) { return transfer_.await_suspend(caller); }
  result_type await_resume() { return transfer_.await_resume().status(); }

  operator Task<result_type>() && { return as_task(std::move(*this)); }

 private:
  static Task<result_type> as_task(StreamWriteAll write);

  StreamTransfer transfer_;
};

}  // namespace giambio

// The awaiting steps' inline definitions.
#include "giambio/internal/stream_core.h"  // IWYU pragma: export

#endif  // GIAMBIO_STREAM_TRANSFER_H_
