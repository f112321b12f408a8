#include "giambio/file.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/internal/io_operation.h"

namespace giambio {
namespace {

absl::Status closed_error(const char* operation, const std::string& path) {
  return absl::FailedPreconditionError(absl::StrCat(operation, "(", path, "): the file is closed"));
}

}  // namespace

File::File(File&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) (void)close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

File::~File() {
  if (fd_ >= 0) (void)close();
}

Task<absl::StatusOr<File>> File::open(std::string path, int flags, uint32_t mode) {
  internal::IoOperation op(OpKind::kOpen, -1);
  op.path = path.c_str();
  op.flags = flags;
  op.mode = mode;
  const int64_t result = co_await op;
  if (result < 0) co_return internal::errno_status(static_cast<int>(-result), "open", path);
  co_return File(static_cast<int>(result), std::move(path));
}

Task<absl::StatusOr<std::string>> File::read_at(int64_t length, int64_t offset) {
  if (fd_ < 0) co_return closed_error("pread", path_);
  if (length < 0 || offset < 0) {
    co_return absl::InvalidArgumentError(absl::StrCat(
        "pread(", path_, "): length ", length, " and offset ", offset, " must not be negative"));
  }
  if (length > kMaxReadAt) {
    co_return absl::InvalidArgumentError(absl::StrCat("pread(", path_, "): length ", length,
                                                      " is over the limit of one read (",
                                                      kMaxReadAt, " bytes, as Linux's)"));
  }
  std::string data(static_cast<size_t>(length), '\0');
  size_t filled = 0;
  while (filled < data.size()) {
    internal::IoOperation op(OpKind::kReadAt, fd_);
    op.buffer = data.data() + filled;
    op.length = data.size() - filled;
    op.offset = offset + static_cast<int64_t>(filled);
    const int64_t result = co_await op;
    if (result < 0) co_return internal::errno_status(static_cast<int>(-result), "pread", path_);
    if (result == 0) break;  // end of file
    filled += static_cast<size_t>(result);
  }
  data.resize(filled);
  co_return data;
}

Task<absl::Status> File::write_all_at(std::string_view data, int64_t offset) {
  if (fd_ < 0) co_return closed_error("pwrite", path_);
  if (offset < 0) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("pwrite(", path_, "): offset ", offset, " must not be negative"));
  }
  size_t written = 0;
  while (written < data.size()) {
    internal::IoOperation op(OpKind::kWriteAt, fd_);
    op.buffer = const_cast<char*>(data.data() + written);
    op.length = data.size() - written;
    op.offset = offset + static_cast<int64_t>(written);
    const int64_t result = co_await op;
    if (result < 0) co_return internal::errno_status(static_cast<int>(-result), "pwrite", path_);
    written += static_cast<size_t>(result);
  }
  co_return absl::OkStatus();
}

Task<absl::Status> File::sync() {
  if (fd_ < 0) co_return closed_error("fsync", path_);
  internal::IoOperation op(OpKind::kSync, fd_);
  const int64_t result = co_await op;
  if (result < 0) co_return internal::errno_status(static_cast<int>(-result), "fsync", path_);
  co_return absl::OkStatus();
}

absl::StatusOr<int64_t> File::size() const {
  if (fd_ < 0) return closed_error("fstat", path_);
  const int64_t size = internal::system_calls().file_size(fd_);
  if (size < 0) return internal::errno_status(static_cast<int>(-size), "fstat", path_);
  return size;
}

absl::Status File::close() {
  if (fd_ < 0) return closed_error("close", path_);
  if (const int result = internal::system_calls().close(std::exchange(fd_, -1)); result < 0) {
    return internal::errno_status(-result, "close", path_);
  }
  return absl::OkStatus();
}

}  // namespace giambio
