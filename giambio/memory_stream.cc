#include "giambio/memory_stream.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"

namespace giambio {
namespace {}  // namespace

std::pair<MemoryStream, MemoryStream> memory_stream_pair(MemoryStreamOptions options) {
  if (options.capacity == 0 || options.max_read == 0) {
    throw UsageError(absl::StrCat("memory_stream_pair: capacity ", options.capacity,
                                  " and max_read ", options.max_read, " must be at least 1"));
  }
  auto state = std::make_shared<internal::MemoryStreamState>(options);
  return {MemoryStream(state, 0), MemoryStream(state, 1)};
}

absl::Status MemoryStream::usable(const char* operation) const {
  if (state_ == nullptr || state_->closed[side_]) {
    return absl::FailedPreconditionError(
        absl::StrCat("MemoryStream::", operation, ": the stream is closed"));
  }
  return absl::OkStatus();
}

Task<absl::StatusOr<size_t>> MemoryStream::read(std::span<char> buffer) {
  if (absl::Status s = usable("read"); !s.ok()) co_return s;
  if (buffer.empty()) co_return absl::InvalidArgumentError("MemoryStream::read: empty buffer");
  internal::MemoryPipe& in = incoming();
  if (in.reading) {
    co_return absl::FailedPreconditionError(
        "MemoryStream::read: another task is already reading this stream");
  }
  internal::BusyFlag busy(in.reading);
  // A cancel point that consumes nothing when cancelled: data is taken only after the wait.
  auto ready = [](void* pipe, internal::TaskRecord&) {
    auto& p = *static_cast<internal::MemoryPipe*>(pipe);
    return p.unread() > 0 || p.eof;
  };
  co_await in.readers.park_unless(ready, &in);
  while (true) {
    if (state_->closed[side_]) {
      co_return absl::FailedPreconditionError("MemoryStream::read: the stream was closed");
    }
    if (in.unread() > 0 || in.eof) break;
    co_await in.readers.park();
  }
  const size_t n = std::min({buffer.size(), in.unread(), state_->options.max_read});
  std::memcpy(buffer.data(), in.buffer.data() + in.head, n);
  in.head += n;
  if (in.head == in.buffer.size()) {
    in.buffer.clear();
    in.head = 0;
  }
  in.writers.unpark_all();  // room again
  co_return n;
}

Task<absl::StatusOr<std::string>> MemoryStream::read_some(int64_t max_bytes) {
  return internal::read_some_by_read(*this, max_bytes, "MemoryStream::read_some");
}

size_t MemoryStream::room() {
  return state_->options.capacity - std::min(state_->options.capacity, outgoing().unread());
}

size_t MemoryStream::put(std::string_view data) {
  internal::MemoryPipe& out = outgoing();
  const size_t n = std::min(room(), data.size());
  out.buffer.append(data.data(), n);
  if (n > 0) out.readers.unpark_all();
  return n;
}

Task<absl::Status> MemoryStream::write_all(std::string_view data, size_t* bytes_written) {
  if (bytes_written != nullptr) *bytes_written = 0;
  if (absl::Status s = usable("write_all"); !s.ok()) co_return s;
  internal::MemoryPipe& out = outgoing();
  if (out.writing) {
    co_return absl::FailedPreconditionError(
        "MemoryStream::write_all: another task is already writing this stream");
  }
  if (out.eof) co_return absl::FailedPreconditionError("MemoryStream::write_all: after send_eof");
  internal::BusyFlag busy(out.writing);
  size_t done = 0;
  while (true) {
    if (out.reader_gone) {
      co_return absl::FailedPreconditionError("MemoryStream::write_all: the peer closed");
    }
    done += put(data.substr(done));
    if (bytes_written != nullptr) *bytes_written = done;
    if (done == data.size()) co_return absl::OkStatus();
    co_await out.writers.park();  // until the reader makes room (a cancel point)
    if (state_->closed[side_]) {
      co_return absl::FailedPreconditionError("MemoryStream::write_all: the stream was closed");
    }
  }
}

Task<absl::StatusOr<size_t>> MemoryStream::write(std::span<const char> data) {
  if (data.empty()) co_return absl::InvalidArgumentError("MemoryStream::write: nothing to write");
  if (absl::Status s = usable("write"); !s.ok()) co_return s;
  // What fits now; while nothing fits, one byte (write_all waits for room for it).
  const std::string_view part(data.data(), std::min(data.size(), std::max<size_t>(room(), 1)));
  size_t written = 0;
  absl::Status s = co_await write_all(part, &written);
  if (!s.ok() && written == 0) co_return s;
  co_return written;
}

absl::Status MemoryStream::send_eof() {
  if (absl::Status s = usable("send_eof"); !s.ok()) return s;
  outgoing().eof = true;
  outgoing().readers.unpark_all();
  return absl::OkStatus();
}

absl::Status MemoryStream::close() {
  if (absl::Status s = usable("close"); !s.ok()) return s;
  state_->closed[side_] = true;
  outgoing().eof = true;
  outgoing().readers.unpark_all();
  incoming().reader_gone = true;
  incoming().writers.unpark_all();  // the peer's writer learns it
  incoming().readers.unpark_all();  // and our own reader, if any, sees the close
  outgoing().writers.unpark_all();
  return absl::OkStatus();
}

}  // namespace giambio
