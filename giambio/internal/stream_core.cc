#include "giambio/internal/stream_core.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
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

StreamCore::StreamCore(StreamCore&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      read_kind_(other.read_kind_),
      write_kind_(other.write_kind_),
      reading_(std::exchange(other.reading_, nullptr)),
      writing_(std::exchange(other.writing_, nullptr)) {}

StreamCore& StreamCore::operator=(StreamCore&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) (void)close();
    fd_ = std::exchange(other.fd_, -1);
    read_kind_ = other.read_kind_;
    write_kind_ = other.write_kind_;
    reading_ = std::exchange(other.reading_, nullptr);
    writing_ = std::exchange(other.writing_, nullptr);
  }
  return *this;
}

StreamCore::~StreamCore() {
  if (fd_ >= 0) (void)close();
}

StreamCore::Transfer::Transfer(StreamCore& core, OpKind kind, std::span<char> buffer,
                               const std::function<std::string()>& describe)
    : core_(core),
      slot_(kind == core.read_kind_ ? core.reading_ : core.writing_),
      describe_(describe),
      op_(kind, core.fd_) {
  op_.buffer = buffer.data();
  op_.length = buffer.size();
}

bool StreamCore::Transfer::await_ready() {
  const char* name = op_.name();
  if (core_.fd_ < 0) {
    refused_ = closed_error(name);
  } else if (slot_ != nullptr) {
    refused_ = busy_error(name, &slot_ == &core_.reading_ ? "reading from" : "writing to");
  }
  return !refused_.ok();
}

bool StreamCore::Transfer::await_suspend(std::coroutine_handle<> caller) {
  slot_ = &op_;  // close() finds the operation here and withdraws it
  try {
    if (op_.await_suspend(caller)) return true;
  } catch (...) {
    slot_ = nullptr;
    throw;
  }
  return false;  // completed at once: await_resume runs now
}

absl::StatusOr<size_t> StreamCore::Transfer::await_resume() {
  if (!refused_.ok()) return refused_;
  slot_ = nullptr;
  const int64_t result = op_.await_resume();  // throws Cancelled if withdrawn by a cancellation
  if (core_.fd_ < 0) return closed_error(op_.name());
  if (result < 0) return errno_status(static_cast<int>(-result), op_.name(), describe_());
  return static_cast<size_t>(result);
}

Task<absl::StatusOr<size_t>> StreamCore::read(std::span<char> buffer,
                                              std::function<std::string()> describe) {
  if (fd_ >= 0 && buffer.empty()) {
    co_return absl::InvalidArgumentError(absl::StrCat(op_name(read_kind_), ": empty buffer"));
  }
  Transfer transfer(*this, read_kind_, buffer, describe);
  co_return co_await transfer;
}

Task<absl::StatusOr<std::string>> StreamCore::read_some(int64_t max_bytes,
                                                        std::function<std::string()> describe) {
  if (max_bytes <= 0) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("read_some(", max_bytes, "): max_bytes must be positive"));
  }
  // "At most max_bytes": a huge max_bytes must not allocate a huge buffer.
  std::string data(static_cast<size_t>(std::min(max_bytes, kReadSomeLimit)), '\0');
  absl::StatusOr<size_t> n =
      co_await read(std::span<char>(data.data(), data.size()), std::move(describe));
  if (!n.ok()) co_return n.status();
  data.resize(*n);
  co_return data;
}

Task<absl::StatusOr<size_t>> StreamCore::write(std::span<const char> data,
                                               std::function<std::string()> describe) {
  if (fd_ >= 0 && data.empty()) co_return size_t{0};
  Transfer transfer(*this, write_kind_, {const_cast<char*>(data.data()), data.size()}, describe);
  co_return co_await transfer;
}

Task<absl::Status> StreamCore::write_all(std::string_view data, size_t* bytes_written,
                                         std::function<std::string()> describe) {
  size_t sent = 0;
  if (bytes_written != nullptr) *bytes_written = 0;
  while (sent < data.size()) {
    // Each round awaits its operation in place: no coroutine frame per round.
    Transfer transfer(*this, write_kind_,
                      {const_cast<char*>(data.data()) + sent, data.size() - sent}, describe);
    absl::StatusOr<size_t> n = co_await transfer;
    if (!n.ok()) co_return n.status();
    sent += *n;
    if (bytes_written != nullptr) *bytes_written = sent;
  }
  co_return absl::OkStatus();
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
