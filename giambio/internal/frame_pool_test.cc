// Task frames are recycled per thread: a freed frame is the next one of its size class, up to
// kFramesPerClass per class; large frames and frames under AddressSanitizer use the heap.
#include "giambio/internal/frame_pool.h"

#include <thread>
#include <vector>

#include "giambio/task.h"
#include "gtest/gtest.h"

namespace giambio::internal {
namespace {

class FramePoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!frame_pooling()) GTEST_SKIP() << "frames use the heap in this build (AddressSanitizer)";
  }
};

TEST_F(FramePoolTest, AFreedFrameIsTheNextOfItsSize) {
  void* first = allocate_frame(100);
  const size_t pooled = pooled_frames();
  free_frame(first, 100);
  EXPECT_EQ(pooled_frames(), pooled + 1);
  void* second = allocate_frame(120);  // same class: 65..128 bytes
  EXPECT_EQ(second, first);
  EXPECT_EQ(pooled_frames(), pooled);
  free_frame(second, 120);
}

TEST_F(FramePoolTest, LargeFramesUseTheHeap) {
  const size_t pooled = pooled_frames();
  void* large = allocate_frame(kLargestPooledFrame + 1);
  free_frame(large, kLargestPooledFrame + 1);
  EXPECT_EQ(pooled_frames(), pooled);
}

TEST_F(FramePoolTest, EachClassKeepsAtMostItsLimit) {
  std::vector<void*> frames;
  for (size_t i = 0; i < kFramesPerClass + 10; ++i) frames.push_back(allocate_frame(1000));
  const size_t pooled = pooled_frames();
  for (void* frame : frames) free_frame(frame, 1000);
  EXPECT_LE(pooled_frames(), pooled + kFramesPerClass);
  EXPECT_GE(pooled_frames(), kFramesPerClass);
}

// The thread that frees a frame keeps it, and hands it back to the heap when it exits, even if
// it never allocated one itself.
TEST_F(FramePoolTest, AFrameFreedOnAnotherThreadJoinsThatThreadsLists) {
  void* frame = allocate_frame(200);
  const size_t pooled_here = pooled_frames();
  const uint64_t released = frames_released_at_thread_exit();
  size_t pooled_there = 0;
  std::thread([&] {
    free_frame(frame, 200);
    pooled_there = pooled_frames();
  }).join();
  EXPECT_EQ(pooled_there, 1u);
  EXPECT_EQ(pooled_frames(), pooled_here);
  EXPECT_EQ(frames_released_at_thread_exit(), released + 1);
}

Task<int> answer() { co_return 42; }

TEST_F(FramePoolTest, TaskFramesComeFromThePool) {
  const size_t pooled = pooled_frames();
  { Task<int> task = answer(); }  // created (the frame is allocated), never run, destroyed
  EXPECT_EQ(pooled_frames(), pooled + 1);
  { Task<int> task = answer(); }  // the same frame again
  EXPECT_EQ(pooled_frames(), pooled + 1);
}

}  // namespace
}  // namespace giambio::internal
