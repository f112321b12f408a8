// giambio/internal/timer_heap.h: the loop's timers, ordered by deadline.
//
// An indexed binary min-heap of intrusive Timer nodes: arming, disarming (from anywhere in the
// heap) and moving a timer are O(log n) and never allocate beyond the heap's vector. Timers
// with the same deadline fire in the order they were armed (a sequence number breaks ties), so
// the order is deterministic.
#ifndef GIAMBIO_INTERNAL_TIMER_HEAP_H_
#define GIAMBIO_INTERNAL_TIMER_HEAP_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/time/time.h"
#include "giambio/check.h"

namespace giambio::internal {

class Timer {
 public:
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  virtual ~Timer() { GIAMBIO_CHECK(!armed(), "a timer destroyed while armed"); }

  bool armed() const { return heap_index_ != kNotArmed; }
  absl::Time deadline() const { return deadline_; }
  // Called by the loop when the deadline has passed; the timer is already disarmed.
  virtual void fire() = 0;

 private:
  friend class TimerHeap;
  static constexpr size_t kNotArmed = ~size_t{0};
  absl::Time deadline_;
  uint64_t sequence_ = 0;
  size_t heap_index_ = kNotArmed;
};

class TimerHeap {
 public:
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  absl::Time next_deadline() const {
    return heap_.empty() ? absl::InfiniteFuture() : heap_.front()->deadline_;
  }

  void arm(Timer& timer, absl::Time deadline) {
    if (timer.armed()) disarm(timer);
    timer.deadline_ = deadline;
    timer.sequence_ = next_sequence_++;
    timer.heap_index_ = heap_.size();
    heap_.push_back(&timer);
    sift_up(timer.heap_index_);
  }

  // Inlined into its callers as it was before it had a check (the cancel and sleep paths).
  ABSL_ATTRIBUTE_ALWAYS_INLINE void disarm(Timer& timer) {
    // (An unarmed timer's index is ~0, past the end of any heap.)
    GIAMBIO_CHECK(timer.heap_index_ < heap_.size() && heap_[timer.heap_index_] == &timer,
                  "disarming a timer that is not in this heap");
    const size_t index = timer.heap_index_;
    Timer* last = heap_.back();
    heap_.pop_back();
    timer.heap_index_ = Timer::kNotArmed;
    if (last != &timer) {
      heap_[index] = last;
      last->heap_index_ = index;
      sift_down(index);
      sift_up(last->heap_index_);
    }
  }

  // Disarms and returns the earliest timer whose deadline is at or before `now`, or nullptr.
  Timer* pop_expired(absl::Time now) {
    if (heap_.empty() || heap_.front()->deadline_ > now) return nullptr;
    Timer* timer = heap_.front();
    disarm(*timer);
    return timer;
  }

 private:
  static bool before(const Timer* a, const Timer* b) {
    if (a->deadline_ != b->deadline_) return a->deadline_ < b->deadline_;
    return a->sequence_ < b->sequence_;
  }
  void place(size_t index, Timer* timer) {
    heap_[index] = timer;
    timer->heap_index_ = index;
  }
  void sift_up(size_t index) {
    Timer* timer = heap_[index];
    while (index > 0) {
      const size_t parent = (index - 1) / 2;
      if (!before(timer, heap_[parent])) break;
      place(index, heap_[parent]);
      index = parent;
    }
    place(index, timer);
  }
  void sift_down(size_t index) {
    Timer* timer = heap_[index];
    const size_t count = heap_.size();
    while (true) {
      size_t child = 2 * index + 1;
      if (child >= count) break;
      if (child + 1 < count && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], timer)) break;
      place(index, heap_[child]);
      index = child;
    }
    place(index, timer);
  }

  std::vector<Timer*> heap_;
  uint64_t next_sequence_ = 0;
};

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_TIMER_HEAP_H_
