// giambio/memory_stream.h: two byte streams connected in memory (Trio's memory_stream_pair).
//
//   auto [a, b] = giambio::memory_stream_pair();
//   co_await a.write_all("ping");
//   absl::StatusOr<std::string> got = co_await b.read_some(16);   // "ping"
//
// For tests of code written against byte_stream.h (TLS, framing, protocols): no descriptors and
// no driver I/O, so it runs on the virtual clock with exact times, in the simulator, and on the
// real drivers alike. Each direction holds at most `capacity` unread bytes: a writer waits
// while the buffer is full (backpressure), which is how a test holds a write_all midway. Reads
// return at most `max_read` bytes at once, which is how a test splits what was written into
// small pieces (a TLS record arriving a byte at a time).
//
// The same rules as every giambio byte stream: one reader and one writer per end at a time
// (FailedPrecondition otherwise); a cancelled read consumes nothing; write_all reports progress
// through `bytes_written`, also when cancelled; send_eof() makes the peer read end of stream
// once it has read what was written; close() ends both directions (the peer reads end of
// stream, and its writes fail with "the peer closed"); using a closed end is FailedPrecondition.
// Both ends belong to one loop's thread.
#ifndef GIAMBIO_MEMORY_STREAM_H_
#define GIAMBIO_MEMORY_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/byte_stream.h"
#include "giambio/parking_lot.h"
#include "giambio/task.h"

namespace giambio {

struct MemoryStreamOptions {
  size_t capacity = 64 * 1024;                           // unread bytes per direction, >= 1
  size_t max_read = std::numeric_limits<size_t>::max();  // bytes one read returns at most, >= 1
};

namespace internal {
// One direction: what was written and not yet read.
struct MemoryPipe {
  std::string buffer;
  size_t head = 0;           // buffer[head..] is unread
  bool eof = false;          // the writer sent end of stream (send_eof or close)
  bool reader_gone = false;  // the reading end closed
  bool reading = false;
  bool writing = false;
  ParkingLot readers{"MemoryStream::read"};
  ParkingLot writers{"MemoryStream::write"};
  size_t unread() const { return buffer.size() - head; }
};
struct MemoryStreamState {
  explicit MemoryStreamState(MemoryStreamOptions o) : options(o) {}
  MemoryStreamOptions options;
  MemoryPipe pipe[2];  // pipe[i]: from end i to end 1 - i
  bool closed[2] = {false, false};
};
}  // namespace internal

class MemoryStream {
 public:
  MemoryStream() = default;

  Task<absl::StatusOr<size_t>> read(std::span<char> buffer);
  Task<absl::StatusOr<std::string>> read_some(int64_t max_bytes);
  Task<absl::StatusOr<size_t>> write(std::span<const char> data);
  Task<absl::Status> write_all(std::string_view data, size_t* bytes_written = nullptr);
  absl::Status send_eof();
  absl::Status close();
  bool is_open() const { return state_ != nullptr && !state_->closed[side_]; }

 private:
  friend std::pair<MemoryStream, MemoryStream> memory_stream_pair(MemoryStreamOptions options);
  MemoryStream(std::shared_ptr<internal::MemoryStreamState> state, int side)
      : state_(std::move(state)), side_(side) {}
  internal::MemoryPipe& incoming() { return state_->pipe[1 - side_]; }
  internal::MemoryPipe& outgoing() { return state_->pipe[side_]; }
  absl::Status usable(const char* operation) const;
  // Free space in the outgoing buffer.
  size_t room();
  // Copies what fits of `data` into the outgoing buffer and wakes the reader.
  size_t put(std::string_view data);

  std::shared_ptr<internal::MemoryStreamState> state_;
  int side_ = 0;
};

// Two connected ends. A capacity or max_read of 0 is a UsageError.
std::pair<MemoryStream, MemoryStream> memory_stream_pair(MemoryStreamOptions options = {});

static_assert(HalfCloseableStream<MemoryStream>);

}  // namespace giambio

#endif  // GIAMBIO_MEMORY_STREAM_H_
