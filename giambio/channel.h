// giambio/channel.h: memory channels, for passing values between tasks (Trio's memory channels).
//
//   auto [tx, rx] = giambio::open_memory_channel<std::string>(/*max_buffer=*/16);
//   absl::Status s = co_await tx.send("hello");        // in a producer
//   absl::StatusOr<std::string> v = co_await rx.receive();   // in a consumer
//
// A channel has a buffer of max_buffer items: 0 makes every send wait for a receiver
// (rendezvous), kUnbounded never makes a sender wait. Senders and receivers are served in the
// order they started waiting (FIFO). Handles are move-only; clone() makes another handle to the
// same end, and each handle is closed by close() or by its destructor.
//
// Outcomes, kept apart as in Trio and returned as statuses:
//   closed          you used a handle that you closed          FailedPrecondition
//   broken          send, but every receive handle is closed   Aborted   (the item is dropped)
//   end of channel  receive, every send handle is closed and   OutOfRange
//                   the buffer is drained
//   would block     try_send / try_receive could not finish    Unavailable
// is_closed(), is_broken(), is_end_of_channel() and is_would_block() test for them. When the
// last receive handle closes, items still buffered are dropped. Closing a handle wakes the
// operations waiting on that handle (not on its clones) with "closed", as in Trio: a send
// parked on it never delivers its item.
//
// Cancellation: send() and receive() are cancel points. A cancelled send has sent nothing (the
// item stays with the sender's frame); a cancelled receive has taken nothing, so no item is
// ever lost. An item handed to a waiting receiver is delivered even if a cancellation reaches
// the receiver before it runs; the cancellation is seen at its next cancel point.
#ifndef GIAMBIO_CHANNEL_H_
#define GIAMBIO_CHANNEL_H_

#include <coroutine>
#include <cstddef>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/parking_lot.h"

namespace giambio {

inline constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();

bool is_closed(const absl::Status& status);
bool is_broken(const absl::Status& status);
bool is_end_of_channel(const absl::Status& status);
bool is_would_block(const absl::Status& status);

// A snapshot of a channel for debugging and tests (Trio's MemoryChannelStatistics); both of its
// ends' handles give the same one.
struct ChannelStatistics {
  size_t current_buffer_used = 0;
  size_t max_buffer_size = 0;  // kUnbounded for an unbounded channel
  size_t open_send_channels = 0;
  size_t open_receive_channels = 0;
  size_t tasks_waiting_send = 0;
  size_t tasks_waiting_receive = 0;
};

namespace internal {

absl::Status channel_closed(const char* operation);
absl::Status channel_broken(const char* operation);
absl::Status channel_end(const char* operation);
absl::Status channel_would_block(const char* operation);

template <typename T>
struct ChannelState {
  explicit ChannelState(size_t max_buffer) : max_buffer(max_buffer) {}

  // What a parked sender offers and learns; what a parked receiver gets. `handle` is the
  // MemorySendChannel / MemoryReceiveChannel the operation runs on.
  struct SendSlot {
    T* item;
    absl::Status result;
    void* handle;
  };
  struct ReceiveSlot {
    std::optional<T> item;
    absl::Status result;
    void* handle;
  };

  // Hands `item` to a waiting receiver or the buffer. Returns false if it must wait.
  bool offer(T& item) {
    receivers.check_thread("MemorySendChannel::send");
    if (ParkingLot::Waiter* receiver = receivers.first()) {
      static_cast<ReceiveSlot*>(receiver->context())->item.emplace(std::move(item));
      receivers.unpark(*receiver);
      return true;
    }
    if (buffer.size() < max_buffer) {
      buffer.push_back(std::move(item));
      return true;
    }
    return false;
  }

  // Takes the next item from the buffer or a waiting sender, if there is one.
  std::optional<T> take() {
    senders.check_thread("MemoryReceiveChannel::receive");
    std::optional<T> item;
    if (!buffer.empty()) {
      item.emplace(std::move(buffer.front()));
      buffer.pop_front();
      // Room again: the longest-waiting sender's item moves into the buffer.
      if (ParkingLot::Waiter* sender = senders.first()) {
        buffer.push_back(std::move(*static_cast<SendSlot*>(sender->context())->item));
        senders.unpark(*sender);
      }
    } else if (ParkingLot::Waiter* sender = senders.first()) {
      item.emplace(std::move(*static_cast<SendSlot*>(sender->context())->item));
      senders.unpark(*sender);
    }
    return item;
  }

  // A handle closes: first the operations parked on that very handle end with "closed" (a
  // parked send's item is never delivered), then, if it was the last handle of its end, the
  // other end learns it.
  void close_sender(void* handle) {
    senders.unpark_where([&](ParkingLot::Waiter& sender) {
      auto* slot = static_cast<SendSlot*>(sender.context());
      if (slot->handle != handle) return false;
      slot->result = channel_closed("MemorySendChannel::send");
      return true;
    });
    if (--open_senders > 0) return;
    while (ParkingLot::Waiter* receiver = receivers.first()) {
      static_cast<ReceiveSlot*>(receiver->context())->result =
          channel_end("MemoryReceiveChannel::receive");
      receivers.unpark(*receiver);
    }
  }
  void close_receiver(void* handle) {
    receivers.unpark_where([&](ParkingLot::Waiter& receiver) {
      auto* slot = static_cast<ReceiveSlot*>(receiver.context());
      if (slot->handle != handle) return false;
      slot->result = channel_closed("MemoryReceiveChannel::receive");
      return true;
    });
    if (--open_receivers > 0) return;
    buffer.clear();
    while (ParkingLot::Waiter* sender = senders.first()) {
      static_cast<SendSlot*>(sender->context())->result = channel_broken("MemorySendChannel::send");
      senders.unpark(*sender);
    }
  }

  ChannelStatistics statistics() const {
    return {.current_buffer_used = buffer.size(),
            .max_buffer_size = max_buffer,
            .open_send_channels = open_senders,
            .open_receive_channels = open_receivers,
            .tasks_waiting_send = senders.size(),
            .tasks_waiting_receive = receivers.size()};
  }

  const size_t max_buffer;
  std::deque<T> buffer;
  size_t open_senders = 1;
  size_t open_receivers = 1;
  ParkingLot senders{"MemorySendChannel::send"};
  ParkingLot receivers{"MemoryReceiveChannel::receive"};
};

}  // namespace internal

template <typename T>
class MemorySendChannel {
  using State = internal::ChannelState<T>;

 public:
  explicit MemorySendChannel(std::shared_ptr<State> state) : state_(std::move(state)) {}
  // A moved-from handle is closed.
  MemorySendChannel(MemorySendChannel&& other) noexcept
      : state_(other.state_), closed_(std::exchange(other.closed_, true)) {}
  MemorySendChannel& operator=(MemorySendChannel&& other) noexcept {
    if (this != &other) {
      close();
      state_ = other.state_;
      closed_ = std::exchange(other.closed_, true);
    }
    return *this;
  }
  ~MemorySendChannel() { close(); }

  class SendAwaiter {
   public:
    SendAwaiter(MemorySendChannel& channel, T item)
        : item_(std::move(item)),
          slot_{&item_, absl::OkStatus(), &channel},
          waiter_(channel.state_->senders, &slot_, /*abortable=*/true, &SendAwaiter::try_now) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> caller) { return waiter_.await_suspend(caller); }
    absl::Status await_resume() {
      waiter_.await_resume();
      return std::move(slot_.result);
    }

   private:
    static bool try_now(void* context, internal::TaskRecord&) {
      auto& slot = *static_cast<typename State::SendSlot*>(context);
      return static_cast<MemorySendChannel*>(slot.handle)->try_send_to_slot(slot);
    }
    T item_;
    typename State::SendSlot slot_;
    ParkingLot::Waiter waiter_;
  };

  // Sends `item`, waiting while the buffer is full.
  SendAwaiter send(T item) { return SendAwaiter(*this, std::move(item)); }

  // Sends without waiting; would-block if nobody can take the item now (it is then dropped;
  // pass a copy if you want to keep it).
  absl::Status try_send(T item) {
    typename State::SendSlot slot{&item, absl::OkStatus(), this};
    if (!try_send_to_slot(slot))
      return internal::channel_would_block("MemorySendChannel::try_send");
    return slot.result;
  }

  // Another handle to this end of the channel. Cloning a closed handle is a closed-handle error.
  absl::StatusOr<MemorySendChannel> clone() const {
    if (closed_) return internal::channel_closed("MemorySendChannel::clone");
    ++state_->open_senders;
    return MemorySendChannel(state_);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    state_->close_sender(this);
  }
  bool closed() const { return closed_; }
  ChannelStatistics statistics() const { return state_->statistics(); }

 private:
  // The whole decision of a send that has passed its cancel point: fills slot.result and
  // returns true if the send is over, false if it has to wait.
  bool try_send_to_slot(typename State::SendSlot& slot) {
    if (closed_) {
      slot.result = internal::channel_closed("MemorySendChannel::send");
      return true;
    }
    if (state_->open_receivers == 0) {
      slot.result = internal::channel_broken("MemorySendChannel::send");
      return true;
    }
    return state_->offer(*slot.item);
  }

  std::shared_ptr<State> state_;
  bool closed_ = false;
};

template <typename T>
class MemoryReceiveChannel {
  using State = internal::ChannelState<T>;

 public:
  explicit MemoryReceiveChannel(std::shared_ptr<State> state) : state_(std::move(state)) {}
  // A moved-from handle is closed.
  MemoryReceiveChannel(MemoryReceiveChannel&& other) noexcept
      : state_(other.state_), closed_(std::exchange(other.closed_, true)) {}
  MemoryReceiveChannel& operator=(MemoryReceiveChannel&& other) noexcept {
    if (this != &other) {
      close();
      state_ = other.state_;
      closed_ = std::exchange(other.closed_, true);
    }
    return *this;
  }
  ~MemoryReceiveChannel() { close(); }

  class ReceiveAwaiter {
   public:
    explicit ReceiveAwaiter(MemoryReceiveChannel& channel)
        : slot_{std::nullopt, absl::OkStatus(), &channel},
          waiter_(channel.state_->receivers, &slot_, /*abortable=*/true, &ReceiveAwaiter::try_now) {
    }
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> caller) { return waiter_.await_suspend(caller); }
    absl::StatusOr<T> await_resume() {
      waiter_.await_resume();
      if (slot_.item) return std::move(*slot_.item);
      return std::move(slot_.result);
    }

   private:
    static bool try_now(void* context, internal::TaskRecord&) {
      auto& slot = *static_cast<typename State::ReceiveSlot*>(context);
      return static_cast<MemoryReceiveChannel*>(slot.handle)->try_receive_to_slot(slot);
    }
    typename State::ReceiveSlot slot_;
    ParkingLot::Waiter waiter_;
  };

  // Receives the next item, waiting while there is none.
  ReceiveAwaiter receive() { return ReceiveAwaiter(*this); }

  absl::StatusOr<T> try_receive() {
    typename State::ReceiveSlot slot{std::nullopt, absl::OkStatus(), this};
    if (!try_receive_to_slot(slot)) {
      return internal::channel_would_block("MemoryReceiveChannel::try_receive");
    }
    if (slot.item) return std::move(*slot.item);
    return slot.result;
  }

  absl::StatusOr<MemoryReceiveChannel> clone() const {
    if (closed_) return internal::channel_closed("MemoryReceiveChannel::clone");
    ++state_->open_receivers;
    return MemoryReceiveChannel(state_);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    state_->close_receiver(this);
  }
  bool closed() const { return closed_; }
  ChannelStatistics statistics() const { return state_->statistics(); }
  // Items in the buffer now.
  size_t buffered() const { return state_->buffer.size(); }

 private:
  bool try_receive_to_slot(typename State::ReceiveSlot& slot) {
    if (closed_) {
      slot.result = internal::channel_closed("MemoryReceiveChannel::receive");
      return true;
    }
    slot.item = state_->take();
    if (slot.item) return true;
    if (state_->open_senders == 0) {
      slot.result = internal::channel_end("MemoryReceiveChannel::receive");
      return true;
    }
    return false;
  }

  std::shared_ptr<State> state_;
  bool closed_ = false;
};

// Opens a channel whose buffer holds up to `max_buffer` items (0: rendezvous; kUnbounded).
template <typename T>
std::pair<MemorySendChannel<T>, MemoryReceiveChannel<T>> open_memory_channel(size_t max_buffer) {
  auto state = std::make_shared<internal::ChannelState<T>>(max_buffer);
  return {MemorySendChannel<T>(state), MemoryReceiveChannel<T>(state)};
}

}  // namespace giambio

#endif  // GIAMBIO_CHANNEL_H_
