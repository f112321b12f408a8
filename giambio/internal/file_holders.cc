#include "giambio/internal/file_holders.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>

namespace giambio::internal {
namespace {

// Taken only off the hot paths: by forget() when some driver holds the number, and by leave(),
// so a holder cannot end while another thread tells it to let go.
std::mutex& registry_lock() {
  static std::mutex* const lock = new std::mutex();
  return *lock;
}

// The slot of `fd` in its chunk, or nullptr if the chunk was never made (nobody ever held a
// number in it) or fd is out of range. With `make`, the chunk is made if missing.
std::atomic<FileHolder*>* slot_of(int fd, bool make) {
  const size_t number = static_cast<size_t>(fd);
  if (number >= kHeldFilesMax) return nullptr;
  std::atomic<HolderChunk*>& entry = holder_chunks[number / kHolderChunk];
  HolderChunk* chunk = entry.load(std::memory_order_acquire);
  if (chunk == nullptr) {
    if (!make) return nullptr;
    auto* fresh = new HolderChunk();
    if (entry.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) {
      chunk = fresh;
    } else {
      delete fresh;  // another thread made it first: `chunk` is that one
    }
  }
  return &chunk->holders[number % kHolderChunk];
}

}  // namespace

constinit std::atomic<HolderChunk*> holder_chunks[kHeldFilesMax / kHolderChunk] = {};

FileHolder::FileHolder() : event_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

FileHolder::~FileHolder() {
  if (event_ >= 0) ::close(event_);
}

void FileHolder::let_go_soon(int fd) {
  {
    std::lock_guard<std::mutex> guard(lock_);
    closed_.push_back(fd);
  }
  const uint64_t one = 1;
  // EAGAIN only when the counter is full: a wake-up is waiting already.
  [[maybe_unused]] const ssize_t written = ::write(event_, &one, sizeof(one));
}

std::vector<int> FileHolder::closed_elsewhere() {
  uint64_t count;
  [[maybe_unused]] const ssize_t read = ::read(event_, &count, sizeof(count));
  std::vector<int> closed;
  std::lock_guard<std::mutex> guard(lock_);
  closed.swap(closed_);
  return closed;
}

void hold(int fd, FileHolder& holder) {
  if (std::atomic<FileHolder*>* slot = slot_of(fd, /*make=*/true)) {
    slot->store(&holder, std::memory_order_release);
  }
}

void release(int fd, FileHolder& holder) {
  if (std::atomic<FileHolder*>* slot = slot_of(fd, /*make=*/false)) {
    FileHolder* expected = &holder;
    slot->compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
  }
}

void forget(int fd) {
  std::atomic<FileHolder*>* slot = slot_of(fd, /*make=*/false);
  if (slot == nullptr || slot->load(std::memory_order_acquire) == nullptr) {
    return;  // the usual case: nobody
  }
  std::lock_guard<std::mutex> guard(registry_lock());
  if (FileHolder* holder = slot->exchange(nullptr, std::memory_order_acq_rel)) {
    holder->let_go_soon(fd);
  }
}

void leave(FileHolder& holder) {
  std::lock_guard<std::mutex> guard(registry_lock());
  for (std::atomic<HolderChunk*>& entry : holder_chunks) {
    HolderChunk* const chunk = entry.load(std::memory_order_acquire);
    if (chunk == nullptr) continue;
    for (std::atomic<FileHolder*>& slot : chunk->holders) {
      // Only the holder itself stores its own address, and it is here: a plain check suffices.
      if (slot.load(std::memory_order_relaxed) == &holder) {
        slot.store(nullptr, std::memory_order_release);
      }
    }
  }
}

}  // namespace giambio::internal
