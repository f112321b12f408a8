// giambio/internal/file_holders.h: which driver holds each descriptor, process-wide.
//
// A driver keeps state about the descriptors it makes, by number: the io_uring driver registers
// each in its ring's table (the ring then holds a reference to the file, which only the ring's
// own thread may drop), the epoll driver keeps each owned descriptor registered until it closes
// it. A descriptor number belongs to the whole process, though, and a stream may be handed to
// another loop and closed there. So every close in the process calls forget(fd) first
// (SystemCalls::close): if a driver holds the number, from that moment it no longer trusts its
// state for it (a reused number never reaches the old file), and it is told
// (FileHolder::let_go_soon: the number queued, the holder's eventfd written) to drop that state
// on its own thread at once, so the file really closes and its peer sees the end of the stream.
//
//   hold(fd, driver) / release(fd, driver)   the holder's thread, as it takes / drops a number
//   held_by(fd, driver)                      the holder's thread, per operation (one load)
//   forget(fd)                               any thread, before the descriptor is closed
//   leave(driver)                            a holder that ends (whatever it still holds)
//
// One holder per number: a listener handed to a loop that accepts on it while another loop made
// it is not covered (the accepting ring's armed accept is not a holder).
#ifndef GIAMBIO_INTERNAL_FILE_HOLDERS_H_
#define GIAMBIO_INTERNAL_FILE_HOLDERS_H_

#include <atomic>
#include <cstddef>
#include <mutex>
#include <vector>

namespace giambio::internal {

class FileHolder {
 public:
  FileHolder(const FileHolder&) = delete;
  FileHolder& operator=(const FileHolder&) = delete;

  // The eventfd other threads write when they close a descriptor this holder holds (-1 if it
  // could not be made: then the holder must hold nothing). The holder polls it.
  int let_go_event() const { return event_; }
  // Any thread (forget(), the registry's lock held, so the holder is alive): `fd` is being
  // closed elsewhere. Queues it and wakes the holder.
  void let_go_soon(int fd);
  // The holder's thread, when its eventfd is readable: the descriptors queued since the last
  // call. For each, the holder drops what it holds of the file, unless it holds the number
  // again by now (held_by: a new descriptor with that number).
  std::vector<int> closed_elsewhere();

 protected:
  FileHolder();
  ~FileHolder();

 private:
  const int event_;
  std::mutex lock_;
  std::vector<int> closed_;
};

// Descriptors below this number can be held: 16 times Linux's default ceiling on descriptor
// limits (fs.nr_open, 1,048,576), so every descriptor is covered unless that was raised further.
inline constexpr size_t kHeldFilesMax = size_t{1} << 24;

// The registry itself, in chunks of kHolderChunk numbers made when one of their numbers is first
// held and kept for the life of the process (a server with 100,000 connections has 25 of 32
// KiB); use the functions below.
inline constexpr size_t kHolderChunk = 4096;
struct HolderChunk {
  std::atomic<FileHolder*> holders[kHolderChunk] = {};
};
extern std::atomic<HolderChunk*> holder_chunks[kHeldFilesMax / kHolderChunk];

inline bool held_by(int fd, const FileHolder& holder) {
  const size_t number = static_cast<size_t>(fd);  // a negative fd, cast, is past the end
  if (number >= kHeldFilesMax) return false;
  const HolderChunk* chunk = holder_chunks[number / kHolderChunk].load(std::memory_order_acquire);
  return chunk != nullptr &&
         chunk->holders[number % kHolderChunk].load(std::memory_order_acquire) == &holder;
}
void hold(int fd, FileHolder& holder);
void release(int fd, FileHolder& holder);
void forget(int fd);
void leave(FileHolder& holder);

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_FILE_HOLDERS_H_
