#include "giambio/stream.h"

#include "absl/strings/str_cat.h"

namespace giambio {
namespace {

std::string describe(int fd) { return absl::StrCat("fd=", fd); }

}  // namespace

static_assert(ByteStream<AsyncStream>);
static_assert(!HalfCloseableStream<AsyncStream>);

AsyncStream::AsyncStream(int fd) : core_(OpKind::kRead, OpKind::kWrite, fd) {
  if (fd >= 0) internal::system_calls().adopt(fd);
}

StreamTransfer AsyncStream::read(std::span<char> buffer) { return core_.read(buffer, describe); }

StreamTransfer AsyncStream::write(std::span<const char> data) {
  return core_.write(data, describe);
}

Task<absl::StatusOr<std::string>> AsyncStream::read_some(int64_t max_bytes) {
  return core_.read_some(max_bytes, describe);
}

StreamWriteAll AsyncStream::write_all(std::string_view data, size_t* bytes_written) {
  return core_.write_all(data, bytes_written, describe);
}

absl::Status AsyncStream::close() { return core_.close(); }

}  // namespace giambio
