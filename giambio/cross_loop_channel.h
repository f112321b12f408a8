// giambio/cross_loop_channel.h: a channel whose two ends live on different loops (threads.h's
// run_loops or run_loops_interleaved), with the outcomes of memory channels (channel.h).
//
//   auto [tx, rx] = giambio::open_cross_loop_channel<std::string>(/*capacity=*/64);
//   // on loop 0:  co_await tx.send("work");     tx.close();
//   // on loop 1:  absl::StatusOr<std::string> item = co_await rx.receive();
//
// One sending and one receiving handle, each bound to the loop of its first operation (using it
// from another loop is a UsageError). Items arrive in the order they were sent. The buffer holds
// `capacity` items (>= 1); a sender waits while it is full, a receiver while it is empty. The
// items pass under a mutex; a waiting end is woken through its loop's LoopToken, so neither loop
// ever polls or blocks its thread.
//
// Outcomes, as for memory channels: closed (this handle was closed: FailedPrecondition), broken
// (send after the receiver closed: Aborted, the item is dropped), end of channel (receive after
// the sender closed and the buffer drained: OutOfRange); closing a handle wakes the operation
// waiting on it with "closed". Cancellation: send() and receive() are
// cancel points; a cancelled send sent nothing, a cancelled receive took nothing.
//
// Simulation and the virtual clock: between the loops of run_loops_interleaved (threads.h); used
// outside them, refused (it needs a LoopToken, which the simulator's tripwire refuses there).
#ifndef GIAMBIO_CROSS_LOOP_CHANNEL_H_
#define GIAMBIO_CROSS_LOOP_CHANNEL_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/channel.h"
#include "giambio/errors.h"
#include "giambio/parking_lot.h"
#include "giambio/threads.h"

namespace giambio {

template <typename T>
class CrossLoopSender;
template <typename T>
class CrossLoopReceiver;
template <typename T>
std::pair<CrossLoopSender<T>, CrossLoopReceiver<T>> open_cross_loop_channel(size_t capacity);

namespace internal {

template <typename T>
struct CrossLoopChannelState {
  // One end's waiting place: its lot is touched on that end's loop only.
  struct End {
    std::optional<LoopToken> loop;    // bound at first use
    const Inbox* bound_to = nullptr;  // which loop: the one its token reaches
    ParkingLot waiting{"cross-loop channel"};
    bool waits = false;   // guarded by mutex
    bool closed = false;  // guarded by mutex
  };
  explicit CrossLoopChannelState(size_t capacity) : capacity(capacity) {}

  std::mutex mutex;
  std::deque<T> items;  // guarded by mutex
  const size_t capacity;
  End sender;
  End receiver;
};

template <typename T>
void bind_end(typename CrossLoopChannelState<T>::End& end, const char* operation) {
  Loop& loop = Loop::current(operation);
  if (end.bound_to == nullptr) {
    end.loop.emplace(current_loop_token());
    end.bound_to = loop.inbox_if_made().get();  // the loop's, or its interleaved loop's
  } else if (end.bound_to != loop.inbox_if_made().get()) {
    throw UsageError(std::string(operation) +
                     ": this end of the channel belongs to another loop (each end stays on the "
                     "loop of its first operation)");
  }
}

// Wakes `end`'s waiting task on its own loop (call with the mutex held, after clearing waits).
template <typename T>
void wake_end(const std::shared_ptr<CrossLoopChannelState<T>>& state,
              typename CrossLoopChannelState<T>::End& end) {
  if (!end.waits) return;
  end.waits = false;
  (void)end.loop->run_soon([state, lot = &end.waiting] { lot->unpark_all(); });
}

// Parks the calling task until the other end (or this end's close()) wakes it; a cancellation
// withdraws the wait.
template <typename T>
Task<> wait_for_other_end(CrossLoopChannelState<T>& state,
                          typename CrossLoopChannelState<T>::End& end) {
  try {
    co_await end.waiting.park();
  } catch (const Cancelled&) {
    std::lock_guard<std::mutex> lock(state.mutex);
    end.waits = false;
    throw;
  }
}

}  // namespace internal

template <typename T>
class CrossLoopSender {
 public:
  CrossLoopSender(CrossLoopSender&&) noexcept = default;
  CrossLoopSender& operator=(CrossLoopSender&&) noexcept = default;
  ~CrossLoopSender() { close(); }

  Task<absl::Status> send(T item) {
    if (state_ == nullptr) co_return internal::channel_closed("CrossLoopSender::send");
    // Held here: close() from another task of this loop may drop the handle's reference.
    const std::shared_ptr<internal::CrossLoopChannelState<T>> state = state_;
    internal::bind_end<T>(state->sender, "CrossLoopSender::send");
    while (true) {
      {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (state->receiver.closed) {
          co_return internal::channel_broken("CrossLoopSender::send");
        }
        if (state->items.size() < state->capacity) {
          state->items.push_back(std::move(item));
          internal::wake_end<T>(state, state->receiver);
          co_return absl::OkStatus();
        }
        state->sender.waits = true;
      }
      co_await internal::wait_for_other_end<T>(*state, state->sender);
      if (state_ == nullptr)
        co_return internal::channel_closed("CrossLoopSender::send");  // closed meanwhile
    }
  }

  void close() {
    if (state_ == nullptr) return;
    std::shared_ptr<internal::CrossLoopChannelState<T>> state = std::move(state_);
    std::lock_guard<std::mutex> lock(state->mutex);
    state->sender.closed = true;
    state->sender.waits = false;
    state->sender.waiting.unpark_all();  // a send waiting on this handle: "closed"
    internal::wake_end<T>(state, state->receiver);
  }
  bool is_open() const { return state_ != nullptr; }

 private:
  template <typename U>
  friend std::pair<CrossLoopSender<U>, CrossLoopReceiver<U>> open_cross_loop_channel(
      size_t capacity);
  explicit CrossLoopSender(std::shared_ptr<internal::CrossLoopChannelState<T>> state)
      : state_(std::move(state)) {}
  std::shared_ptr<internal::CrossLoopChannelState<T>> state_;
};

template <typename T>
class CrossLoopReceiver {
 public:
  CrossLoopReceiver(CrossLoopReceiver&&) noexcept = default;
  CrossLoopReceiver& operator=(CrossLoopReceiver&&) noexcept = default;
  ~CrossLoopReceiver() { close(); }

  Task<absl::StatusOr<T>> receive() {
    if (state_ == nullptr) {
      co_return internal::channel_closed("CrossLoopReceiver::receive");
    }
    // Held here: close() from another task of this loop may drop the handle's reference.
    const std::shared_ptr<internal::CrossLoopChannelState<T>> state = state_;
    internal::bind_end<T>(state->receiver, "CrossLoopReceiver::receive");
    while (true) {
      {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (!state->items.empty()) {
          T item = std::move(state->items.front());
          state->items.pop_front();
          internal::wake_end<T>(state, state->sender);
          co_return item;
        }
        if (state->sender.closed) {
          co_return internal::channel_end("CrossLoopReceiver::receive");
        }
        state->receiver.waits = true;
      }
      co_await internal::wait_for_other_end<T>(*state, state->receiver);
      if (state_ == nullptr)
        co_return internal::channel_closed("CrossLoopReceiver::receive");  // closed meanwhile
    }
  }

  void close() {
    if (state_ == nullptr) return;
    std::shared_ptr<internal::CrossLoopChannelState<T>> state = std::move(state_);
    std::lock_guard<std::mutex> lock(state->mutex);
    state->receiver.closed = true;
    state->items.clear();  // dropped, as when a memory channel's last receiver closes
    state->receiver.waits = false;
    state->receiver.waiting.unpark_all();  // a receive waiting on this handle: "closed"
    internal::wake_end<T>(state, state->sender);
  }
  bool is_open() const { return state_ != nullptr; }

 private:
  template <typename U>
  friend std::pair<CrossLoopSender<U>, CrossLoopReceiver<U>> open_cross_loop_channel(
      size_t capacity);
  explicit CrossLoopReceiver(std::shared_ptr<internal::CrossLoopChannelState<T>> state)
      : state_(std::move(state)) {}
  std::shared_ptr<internal::CrossLoopChannelState<T>> state_;
};

// capacity >= 1 (0 is a UsageError: a rendezvous across threads is not offered).
template <typename T>
std::pair<CrossLoopSender<T>, CrossLoopReceiver<T>> open_cross_loop_channel(size_t capacity) {
  if (capacity == 0) throw UsageError("open_cross_loop_channel: capacity 0 (at least 1)");
  auto state = std::make_shared<internal::CrossLoopChannelState<T>>(capacity);
  return {CrossLoopSender<T>(state), CrossLoopReceiver<T>(state)};
}

}  // namespace giambio

#endif  // GIAMBIO_CROSS_LOOP_CHANNEL_H_
