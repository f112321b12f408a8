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

Task<absl::StatusOr<size_t>> StreamCore::read(std::span<char> buffer,
                                              std::function<std::string()> describe) {
  const char* name = op_name(read_kind_);
  if (fd_ < 0) co_return closed_error(name);
  if (buffer.empty()) co_return absl::InvalidArgumentError(absl::StrCat(name, ": empty buffer"));
  if (reading_ != nullptr) co_return busy_error(name, "reading from");
  IoOperation op(read_kind_, fd_);
  op.buffer = buffer.data();
  op.length = buffer.size();
  int64_t result;
  {
    BusySlot busy(reading_, op);
    result = co_await op;
  }
  if (fd_ < 0) co_return closed_error(name);
  if (result < 0) co_return errno_status(static_cast<int>(-result), name, describe());
  co_return static_cast<size_t>(result);
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
  const char* name = op_name(write_kind_);
  if (fd_ < 0) co_return closed_error(name);
  if (data.empty()) co_return size_t{0};
  if (writing_ != nullptr) co_return busy_error(name, "writing to");
  IoOperation op(write_kind_, fd_);
  op.buffer = const_cast<char*>(data.data());
  op.length = data.size();
  int64_t result;
  {
    BusySlot busy(writing_, op);
    result = co_await op;
  }
  if (fd_ < 0) co_return closed_error(name);
  if (result < 0) co_return errno_status(static_cast<int>(-result), name, describe());
  co_return static_cast<size_t>(result);
}

Task<absl::Status> StreamCore::write_all(std::string_view data, size_t* bytes_written,
                                         std::function<std::string()> describe) {
  size_t sent = 0;
  if (bytes_written != nullptr) *bytes_written = 0;
  while (sent < data.size()) {
    absl::StatusOr<size_t> n = co_await write(std::span<const char>(data.substr(sent)), describe);
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
