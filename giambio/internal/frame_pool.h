// giambio/internal/frame_pool.h: where Task coroutine frames come from. Every read, write and
// nested call in giambio is a Task, so a busy server creates and destroys millions of small
// frames a second; taking them from malloc costs more user CPU than the rest of the scheduler.
//
//   void* frame = allocate_frame(size);   // TaskPromiseBase::operator new
//   free_frame(frame, size);              // TaskPromiseBase::operator delete (sized)
//
// Each thread keeps a free list per size class (multiples of kFrameGranule bytes, up to
// kLargestPooledFrame); a freed frame goes to the freeing thread's list, is reused last in,
// first out (so it is still in the cache), and beyond kFramesPerClass per class goes back to
// the heap. Larger frames (an echo loop's 16 KiB buffer) always use the heap. A thread's lists
// are emptied when it exits; a frame freed after that goes straight to the heap.
//
// Under AddressSanitizer frames always use the heap, so that a use of a destroyed frame is still
// reported.
#ifndef GIAMBIO_INTERNAL_FRAME_POOL_H_
#define GIAMBIO_INTERNAL_FRAME_POOL_H_

#include <cstddef>
#include <cstdint>

namespace giambio::internal {

inline constexpr size_t kFrameGranule = 64;
inline constexpr size_t kLargestPooledFrame = 2048;
inline constexpr size_t kFramesPerClass = 256;

void* allocate_frame(size_t size);
void free_frame(void* frame, size_t size) noexcept;

// For tests: whether frames are pooled in this build (not under AddressSanitizer), and how many
// this thread holds for reuse, all classes together.
bool frame_pooling();
size_t pooled_frames();
// Frames handed back to the heap by exiting threads' lists, all threads together.
uint64_t frames_released_at_thread_exit();

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_FRAME_POOL_H_
