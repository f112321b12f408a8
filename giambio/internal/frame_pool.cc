#include "giambio/internal/frame_pool.h"

#include <atomic>
#include <new>

namespace giambio::internal {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPooling = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kPooling = false;
#else
constexpr bool kPooling = true;
#endif
#else
constexpr bool kPooling = true;
#endif

constexpr size_t kClasses = kLargestPooledFrame / kFrameGranule;

struct FreeFrame {
  FreeFrame* next;
};

// Trivially destructible, so that it stays usable after the thread's destructors have run (a
// frame freed then goes to the heap: `closed`).
struct Lists {
  FreeFrame* head[kClasses];
  uint32_t count[kClasses];
  bool closed;
};
thread_local Lists lists{};

std::atomic<uint64_t> released_at_exit{0};

// Empties this thread's lists when it exits.
struct Closer {
  ~Closer() {
    lists.closed = true;
    for (size_t c = 0; c < kClasses; ++c) {
      while (FreeFrame* frame = lists.head[c]) {
        lists.head[c] = frame->next;
        ::operator delete(frame);
      }
      released_at_exit.fetch_add(lists.count[c], std::memory_order_relaxed);
      lists.count[c] = 0;
    }
  }
};
thread_local Closer closer;

// The class of a frame of `size` bytes (1..kLargestPooledFrame): frames of class c are
// (c + 1) * kFrameGranule bytes long.
size_t class_of(size_t size) { return (size - 1) / kFrameGranule; }

}  // namespace

void* allocate_frame(size_t size) {
  if (!kPooling || size == 0 || size > kLargestPooledFrame) return ::operator new(size);
  const size_t c = class_of(size);
  if (FreeFrame* frame = lists.head[c]) {
    lists.head[c] = frame->next;
    --lists.count[c];
    return frame;
  }
  return ::operator new((c + 1) * kFrameGranule);
}

void free_frame(void* frame, size_t size) noexcept {
  if (!kPooling || size == 0 || size > kLargestPooledFrame) {
    ::operator delete(frame);
    return;
  }
  const size_t c = class_of(size);
  if (lists.closed || lists.count[c] >= kFramesPerClass) {
    ::operator delete(frame);
    return;
  }
  // Frames enter a thread's lists only here: make sure this thread empties them at its exit
  // (a thread may free frames it never allocated: a task made on one thread, run on another).
  (void)&closer;
  lists.head[c] = new (frame) FreeFrame{lists.head[c]};
  ++lists.count[c];
}

bool frame_pooling() { return kPooling; }

uint64_t frames_released_at_thread_exit() {
  return released_at_exit.load(std::memory_order_relaxed);
}

size_t pooled_frames() {
  size_t total = 0;
  for (size_t c = 0; c < kClasses; ++c) total += lists.count[c];
  return total;
}

}  // namespace giambio::internal
