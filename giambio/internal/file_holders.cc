#include "giambio/internal/file_holders.h"

#include <mutex>

namespace giambio::internal {
namespace {

// Taken only off the hot paths: by forget() when some ring holds the file, and by leave(), so a
// ring cannot end while another thread tells it to let go.
std::mutex& registry_lock() {
  static std::mutex* const lock = new std::mutex();
  return *lock;
}

}  // namespace

constinit std::atomic<FileHolder*> file_holders[kHeldFilesMax] = {};

void hold(int fd, FileHolder& holder) {
  if (static_cast<size_t>(fd) >= kHeldFilesMax) return;
  file_holders[static_cast<size_t>(fd)].store(&holder, std::memory_order_release);
}

void release(int fd, FileHolder& holder) {
  if (static_cast<size_t>(fd) >= kHeldFilesMax) return;
  FileHolder* expected = &holder;
  file_holders[static_cast<size_t>(fd)].compare_exchange_strong(expected, nullptr,
                                                                std::memory_order_acq_rel);
}

void forget(int fd) {
  if (static_cast<size_t>(fd) >= kHeldFilesMax) return;
  std::atomic<FileHolder*>& slot = file_holders[static_cast<size_t>(fd)];
  if (slot.load(std::memory_order_acquire) == nullptr) return;  // the usual case: nobody
  std::lock_guard<std::mutex> guard(registry_lock());
  if (FileHolder* holder = slot.exchange(nullptr, std::memory_order_acq_rel)) {
    holder->let_go_soon(fd);
  }
}

void leave(FileHolder& holder) {
  std::lock_guard<std::mutex> guard(registry_lock());
  for (std::atomic<FileHolder*>& slot : file_holders) {
    // Only the holder itself stores its own address, and it is here: a plain check suffices.
    if (slot.load(std::memory_order_relaxed) == &holder) {
      slot.store(nullptr, std::memory_order_release);
    }
  }
}

}  // namespace giambio::internal
