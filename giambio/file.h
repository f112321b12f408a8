// giambio/file.h: File, reading and writing files at offsets without blocking the loop.
//
//   absl::StatusOr<File> f = co_await File::open("/tmp/data", O_RDWR | O_CREAT);
//   co_await f->write_all_at("hello", /*offset=*/0);
//   co_await f->sync();                                   // fsync: durable from here on
//   absl::StatusOr<std::string> back = co_await f->read_at(5, 0);
//
// On io_uring these are native operations; on epoll they run on a small pool of worker threads
// (epoll cannot wait for files). Errors are statuses naming the operation and the path:
// "open(/no/such/file): No such file or directory". Negative offsets and lengths are
// InvalidArgument; using a closed file is FailedPrecondition.
//
// Cancellation: every await is a cancel point. A file operation the kernel or a worker thread
// has started cannot be interrupted; a cancelled one completes first, and the cancellation is
// seen right after (for a write: the bytes may have been written).
#ifndef GIAMBIO_FILE_H_
#define GIAMBIO_FILE_H_

#include <fcntl.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/task.h"

namespace giambio {

class File {
 public:
  File() = default;
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  ~File();

  // flags as for open(2) (O_CLOEXEC is always added); mode applies when O_CREAT creates it.
  static Task<absl::StatusOr<File>> open(std::string path, int flags = O_RDONLY,
                                         uint32_t mode = 0644);

  // Reads up to `length` bytes at `offset`; fewer at the end of the file ("" past it). A length
  // over kMaxReadAt (Linux's limit for one read) is InvalidArgument.
  Task<absl::StatusOr<std::string>> read_at(int64_t length, int64_t offset);
  static constexpr int64_t kMaxReadAt = 0x7ffff000;
  // Writes all of `data` at `offset`.
  Task<absl::Status> write_all_at(std::string_view data, int64_t offset);
  // fsync(2): what was written survives a crash once this returns.
  Task<absl::Status> sync();
  // The file's size now (fstat).
  absl::StatusOr<int64_t> size() const;
  // Closes now; a second close is FailedPrecondition.
  absl::Status close();

  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace giambio

#endif  // GIAMBIO_FILE_H_
