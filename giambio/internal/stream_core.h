// giambio/internal/stream_core.h: what every byte stream shares (SocketStream, AsyncStream): an
// owned descriptor, one reader and one writer at a time, reads that consume nothing when
// cancelled, write_all with progress, and a close that wakes a waiting reader or writer. Its
// reads and writes are StreamTransfers (stream_transfer.h), which it owns the checks of.
#ifndef GIAMBIO_INTERNAL_STREAM_CORE_H_
#define GIAMBIO_INTERNAL_STREAM_CORE_H_

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/driver.h"
#include "giambio/internal/io_operation.h"
#include "giambio/stream_transfer.h"
#include "giambio/task.h"

namespace giambio::internal {

// Marks `slot` busy with `op` for the duration of a scope: one reader (or writer, or acceptor)
// at a time, and close() can find and withdraw it.
class BusySlot {
 public:
  BusySlot(IoOperation*& slot, IoOperation& op) : slot_(slot) { slot_ = &op; }
  BusySlot(const BusySlot&) = delete;
  ~BusySlot() { slot_ = nullptr; }

 private:
  IoOperation*& slot_;
};

// FailedPrecondition "OPERATION: another task is already WHAT this stream".
absl::Status busy_error(const char* operation, const char* what);
// Withdraws the operation in `slot`, if any (its owner then sees the stream closed).
void withdraw(IoOperation* slot);

// read_some never reads more than this at once, whatever max_bytes says (1 MiB).
inline constexpr int64_t kReadSomeLimit = int64_t{1} << 20;

class StreamCore {
 public:
  // `read_kind` / `write_kind`: kReceive/kSend for sockets, kRead/kWrite for other streams.
  StreamCore(OpKind read_kind, OpKind write_kind)
      : read_kind_(read_kind), write_kind_(write_kind) {}
  StreamCore(OpKind read_kind, OpKind write_kind, int fd)
      : fd_(fd), read_kind_(read_kind), write_kind_(write_kind) {}
  StreamCore(StreamCore&& other) noexcept;
  StreamCore& operator=(StreamCore&& other) noexcept;
  ~StreamCore();

  // `describe` names the stream in error messages (the peer's address, else "fd=N").
  // read(), write() and write_all() are awaited in place (stream_transfer.h); read_some awaits
  // a read in place inside its coroutine.
  StreamTransfer read(std::span<char> buffer, StreamTransfer::Describe describe) {
    return StreamTransfer(*this, read_kind_, /*reading=*/true, buffer, describe);
  }
  Task<absl::StatusOr<std::string>> read_some(int64_t max_bytes, StreamTransfer::Describe describe);
  StreamTransfer write(std::span<const char> data, StreamTransfer::Describe describe) {
    return StreamTransfer(*this, write_kind_, /*reading=*/false,
                          {const_cast<char*>(data.data()), data.size()}, describe);
  }
  StreamWriteAll write_all(std::string_view data, size_t* bytes_written,
                           StreamTransfer::Describe describe) {
    return StreamWriteAll(*this, write_kind_, data, bytes_written, describe);
  }
  absl::Status close();

  int fd() const { return fd_; }
  // FailedPrecondition "OPERATION: the stream is closed".
  static absl::Status closed_error(const char* operation);

 private:
  friend class giambio::StreamTransfer;  // checks the stream, marks it busy, awaits its operation

  // The operation a read (or a write) awaits. One reader and one writer at a time, so one of each
  // serves every transfer: a message's read and write touch the same few lines each time instead
  // of building an operation in the awaiting frame. Made again when the descriptor or the loop
  // is not the one it was made for. Only while the direction's slot is free: a transfer holds
  // the operation from its await until it has seen the result.
  IoOperation& operation(bool reading) {
    std::optional<IoOperation>& op = reading ? read_op_ : write_op_;
    if (!op || op->fd() != fd_ || !op->on_current_loop()) [[unlikely]] {
      return make_operation(op, reading ? read_kind_ : write_kind_);
    }
    return *op;
  }
  IoOperation& make_operation(std::optional<IoOperation>& op, OpKind kind);

  int fd_ = -1;
  OpKind read_kind_;
  OpKind write_kind_;
  // This stream's operation while a reader (writer) waits on it, for close() to withdraw;
  // nullptr when nobody does. Never handed to another stream: a move wakes the waiter instead.
  IoOperation* reading_ = nullptr;
  IoOperation* writing_ = nullptr;
  std::optional<IoOperation> read_op_;
  std::optional<IoOperation> write_op_;
};

}  // namespace giambio::internal

namespace giambio {

// StreamTransfer's awaiting steps (stream_transfer.h), here because they read StreamCore.

inline internal::IoOperation*& StreamTransfer::slot() {
  return reading_ ? core_->reading_ : core_->writing_;
}

inline bool StreamTransfer::await_suspend(std::coroutine_handle<> caller) {
  // Awaited once, on an open stream, with something to transfer, and nobody else at it.
  if (started_ || core_->fd_ < 0 || buffer_.empty() || slot() != nullptr) [[unlikely]] {
    refuse();
    return false;
  }
  started_ = true;
  if (bytes_written_ != nullptr) *bytes_written_ = 0;
  op_ = &core_->operation(reading_);
  op_->buffer = buffer_.data();
  op_->length = buffer_.size();
  op_->go_on_with(all_ ? &StreamTransfer::next_round : nullptr, this);
  if (!op_->await_suspend(caller)) return false;  // cancelled already, or completed at once
  slot() = op_;  // close() finds the operation here and withdraws it
  return true;
}

inline StreamTransfer::result_type StreamTransfer::await_resume() {
  if (op_ == nullptr) [[unlikely]] {
    return refusal_error();  // or an empty write's 0
  }
  if (internal::IoOperation*& busy = slot(); busy == op_) busy = nullptr;
  const int64_t result = op_->await_resume();  // throws Cancelled if withdrawn by a cancellation
  if (result >= 0 && core_->fd_ >= 0) [[likely]] {
    if (!all_) return static_cast<size_t>(result);
    if (sent_ + static_cast<size_t>(result) == buffer_.size()) {  // write_all's last round
      count_sent(static_cast<size_t>(result));
      return sent_;
    }
  }
  return finish(result);
}

}  // namespace giambio

#endif  // GIAMBIO_INTERNAL_STREAM_CORE_H_
