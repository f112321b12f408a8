#include "giambio/internal/stream_core.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "giambio/errors.h"
#include "giambio/loop.h"

namespace giambio::internal {
absl::Status busy_error(const char* operation, const char* what) {
  return absl::FailedPreconditionError(
      absl::StrCat(operation, ": another task is already ", what, " this stream"));
}

void withdraw(IoOperation* slot) {
  if (slot != nullptr) Loop::current("close").driver().cancel(*slot);
}

absl::Status StreamCore::closed_error(const char* operation) {
  return absl::FailedPreconditionError(absl::StrCat(operation, ": the stream is closed"));
}

// A stream's operations stay where they are (the driver may hold them): the descriptor moves,
// and a task that waits on the stream moved from is woken and sees that stream closed, as after
// close(); the stream moved to starts with nobody waiting.
StreamCore::StreamCore(StreamCore&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      read_kind_(other.read_kind_),
      write_kind_(other.write_kind_) {
  withdraw(other.reading_);
  withdraw(other.writing_);
}

StreamCore& StreamCore::operator=(StreamCore&& other) noexcept {
  if (this != &other) {
    // Wakes this stream's waiters; their slots stay taken until they have seen it closed.
    if (fd_ >= 0) (void)close();
    fd_ = std::exchange(other.fd_, -1);
    read_kind_ = other.read_kind_;
    write_kind_ = other.write_kind_;
    withdraw(other.reading_);
    withdraw(other.writing_);
  }
  return *this;
}

StreamCore::~StreamCore() {
  if (fd_ >= 0) (void)close();
}

IoOperation& StreamCore::make_operation(std::optional<IoOperation>& op, OpKind kind) {
  // Called with the direction's slot free, so no transfer holds `op`.
  GIAMBIO_CHECK(!op || !op->in_flight(), op_name(kind),
                ": a stream's operation was remade while the driver still owned it");
  op.reset();
  return op.emplace(kind, fd_);
}

Task<absl::StatusOr<std::string>> StreamCore::read_some(int64_t max_bytes,
                                                        StreamTransfer::Describe describe) {
  if (max_bytes <= 0) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("read_some(", max_bytes, "): max_bytes must be positive"));
  }
  // "At most max_bytes": a huge max_bytes must not allocate a huge buffer.
  std::string data(static_cast<size_t>(std::min(max_bytes, kReadSomeLimit)), '\0');
  StreamTransfer transfer = read(std::span<char>(data.data(), data.size()), describe);
  absl::StatusOr<size_t> n = co_await transfer;
  if (!n.ok()) co_return n.status();
  data.resize(*n);
  co_return data;
}

absl::Status StreamCore::close() {
  if (fd_ < 0) return closed_error("close");
  const int fd = std::exchange(fd_, -1);
  // Wake whoever waits on the stream: their operation is withdrawn, and they see it closed.
  withdraw(reading_);
  withdraw(writing_);
  if (const int result = system_calls().close(fd); result < 0) {
    return errno_status(-result, "close", absl::StrCat("fd=", fd));
  }
  return absl::OkStatus();
}

}  // namespace giambio::internal

namespace giambio {

using internal::IoOperation;
using internal::StreamCore;

StreamTransfer::StreamTransfer(StreamTransfer&& other)
    : core_(other.core_),
      buffer_(other.buffer_),
      describe_(other.describe_),
      bytes_written_(other.bytes_written_),
      kind_(other.kind_),
      reading_(other.reading_),
      all_(other.all_) {
  GIAMBIO_CHECK(!other.started_, op_name(kind_),
                ": a read or write was moved after its await began");
}

void StreamTransfer::refuse() {
  if (started_) {
    throw UsageError(
        absl::StrCat("co_await ", op_name(kind_), ": this read or write was already awaited"));
  }
  started_ = true;
  if (bytes_written_ != nullptr) *bytes_written_ = 0;
  if (core_->fd_ < 0) {
    refused_ = Refusal::kClosed;
  } else if (buffer_.empty()) {
    // Nothing to write is written at once; an empty buffer to read into is a mistake.
    if (reading_) refused_ = Refusal::kEmptyRead;
  } else {
    refused_ = Refusal::kBusy;
  }
}

StreamTransfer::result_type StreamTransfer::refusal_error() const {
  const char* name = op_name(kind_);
  switch (refused_) {
    case Refusal::kClosed:
      return StreamCore::closed_error(name);
    case Refusal::kBusy:
      return internal::busy_error(name, reading_ ? "reading from" : "writing to");
    case Refusal::kEmptyRead:
      return absl::InvalidArgumentError(absl::StrCat(name, ": empty buffer"));
    case Refusal::kNone:
      break;
  }
  return size_t{0};  // an empty write: nothing to write is written at once
}

bool StreamTransfer::next_round(IoOperation& op, int64_t result, void* self) {
  StreamTransfer& transfer = *static_cast<StreamTransfer*>(self);
  // An error, the last bytes, or a stream closed meanwhile (its number may be reused): the task
  // wakes and await_resume counts them.
  if (result < 0 || transfer.sent_ + static_cast<size_t>(result) >= transfer.buffer_.size() ||
      transfer.core_->fd_ < 0) {
    return false;
  }
  transfer.count_sent(static_cast<size_t>(result));
  op.buffer = transfer.buffer_.data() + transfer.sent_;
  op.length = transfer.buffer_.size() - transfer.sent_;
  return true;
}

StreamTransfer::result_type StreamTransfer::finish(int64_t result) {
  if (all_ && result > 0) {
    count_sent(static_cast<size_t>(result));
  }
  const char* name = op_name(kind_);
  // Withdrawn with no cancellation that applies (await_resume threw otherwise): by close(), or
  // by a move or an assignment of the stream, which may hold a new descriptor by now.
  if (core_->fd_ < 0 || result == -ECANCELED) return StreamCore::closed_error(name);
  if (result < 0) {
    return internal::errno_status(static_cast<int>(-result), name, describe_(core_->fd_));
  }
  if (!all_) return static_cast<size_t>(result);
  if (sent_ < buffer_.size()) {
    // A cancellation stopped the rounds (next_round goes on otherwise): it applies still.
    op_->check_cancel();
    GIAMBIO_CHECK(false, "write_all: stopped after ", sent_, " of ", buffer_.size(),
                  " bytes with no cancellation");
  }
  return sent_;
}

Task<absl::Status> StreamWriteAll::as_task(StreamWriteAll write) {
  absl::Status status = co_await write;
  co_return status;
}

Task<StreamTransfer::result_type> StreamTransfer::as_task(StreamTransfer transfer) {
  result_type result = co_await transfer;
  co_return result;
}

}  // namespace giambio
