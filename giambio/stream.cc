#include "giambio/stream.h"

#include "absl/strings/str_cat.h"

namespace giambio {
namespace {

std::function<std::string()> fd_describer(int fd) {
  return [fd] { return absl::StrCat("fd=", fd); };
}

}  // namespace

static_assert(ByteStream<AsyncStream>);
static_assert(!HalfCloseableStream<AsyncStream>);

AsyncStream::AsyncStream(int fd) : core_(OpKind::kRead, OpKind::kWrite, fd) {
  if (fd >= 0) internal::system_calls().adopt(fd);
}

Task<absl::StatusOr<size_t>> AsyncStream::read(std::span<char> buffer) {
  return core_.read(buffer, fd_describer(fd()));
}

Task<absl::StatusOr<size_t>> AsyncStream::write(std::span<const char> data) {
  return core_.write(data, fd_describer(fd()));
}

Task<absl::StatusOr<std::string>> AsyncStream::read_some(int64_t max_bytes) {
  return core_.read_some(max_bytes, fd_describer(fd()));
}

Task<absl::Status> AsyncStream::write_all(std::string_view data, size_t* bytes_written) {
  return core_.write_all(data, bytes_written, fd_describer(fd()));
}

absl::Status AsyncStream::close() { return core_.close(); }

}  // namespace giambio
