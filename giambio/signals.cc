#include "giambio/signals.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "giambio/errors.h"
#include "giambio/internal/signal_hub.h"
#include "giambio/io_wait.h"
#include "giambio/loop.h"

namespace giambio {
namespace internal {

// ---- The hub: slots and the hand-out rule ----

absl::Status SignalHub::open(SignalSlot& slot) {
  if (loop_ != nullptr && loop_ != slot.loop && !slots_.empty()) {
    throw UsageError(
        "open_signal_receiver: receivers are open on another loop (one loop at a time receives a "
        "process's signals)");
  }
  std::vector<int> watched_now;
  for (int signal = 1; signal <= kMaxSignal; ++signal) {
    if ((slot.listens & SignalSlot::bit(signal)) == 0 || count_[signal] > 0) continue;
    absl::Status status = watch(signal);
    if (!status.ok()) {
      for (int undo : watched_now) unwatch(undo);
      return status;
    }
    watched_now.push_back(signal);
  }
  for (int signal = 1; signal <= kMaxSignal; ++signal) {
    if ((slot.listens & SignalSlot::bit(signal)) != 0) ++count_[signal];
  }
  loop_ = slot.loop;
  slot.hub = this;
  slots_.push_back(slot);
  return absl::OkStatus();
}

void SignalHub::close(SignalSlot& slot) {
  GIAMBIO_CHECK(slot.hub == this && slot.node.linked(), "closing a signal slot not open here");
  GIAMBIO_CHECK(slot.receiving == 0, "closing a signal slot while a task receives from it");
  IntrusiveList<SignalSlot, &SignalSlot::node>::remove(slot);
  slot.hub = nullptr;
  for (int signal = 1; signal <= kMaxSignal; ++signal) {
    if ((slot.listens & SignalSlot::bit(signal)) == 0) continue;
    GIAMBIO_CHECK(count_[signal] > 0, "signal ", signal, " closed more often than opened");
    if (--count_[signal] == 0) unwatch(signal);
  }
}

void SignalHub::deliver(int signal) {
  if (signal < 1 || signal > kMaxSignal) return;
  const uint64_t bit = SignalSlot::bit(signal);
  slots_.for_each([&](SignalSlot& slot) {
    if ((slot.listens & bit) == 0 || (slot.queued & bit) != 0) return;
    slot.queued |= bit;
    slot.queue.push_back(signal);
  });
  waiting_.unpark_all();
}

Task<int> SignalHub::receive(SignalSlot& slot) {
  ++slot.receiving;
  struct Leave {
    SignalSlot& slot;
    ~Leave() { --slot.receiving; }
  } leave{slot};
  while (slot.queue.empty()) {
    if (!has_source() || reading_) {
      co_await waiting_.park();
      continue;
    }
    // This task reads for everyone; whatever happens, the next waiter may take over.
    reading_ = true;
    struct Done {
      SignalHub& hub;
      ~Done() {
        hub.reading_ = false;
        hub.waiting_.unpark_all();
      }
    } done{*this};
    co_await read_source();
  }
  const int signal = slot.queue.front();
  slot.queue.erase(slot.queue.begin());
  slot.queued &= ~SignalSlot::bit(signal);
  co_return signal;
}

namespace {

// ---- The real process: a signalfd for the union of the watched signals ----

class ProcessSignals final : public SignalHub {
 protected:
  absl::Status watch(int signal) override {
    std::lock_guard<std::mutex> lock(mutex_);
    sigset_t current;
    pthread_sigmask(SIG_BLOCK, nullptr, &current);
    was_blocked_[signal] = sigismember(&current, signal) == 1;
    sigaddset(&watched_, signal);
    const int fd = signalfd(fd_, &watched_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      sigdelset(&watched_, signal);
      return absl::ErrnoToStatus(
          error, absl::StrCat("open_signal_receiver(", signal_name(signal), "): signalfd"));
    }
    fd_ = fd;
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signal);
    pthread_sigmask(SIG_BLOCK, &one, nullptr);
    return absl::OkStatus();
  }

  void unwatch(int signal) override {
    std::lock_guard<std::mutex> lock(mutex_);
    sigdelset(&watched_, signal);
    if (sigisemptyset(&watched_)) {
      ::close(fd_);
      fd_ = -1;
    } else {
      signalfd(fd_, &watched_, 0);
    }
    // What arrived and nobody took is dropped before the mask comes back, so the signal's old
    // action never runs for a signal that arrived while a receiver was open.
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signal);
    const timespec now = {0, 0};
    while (sigtimedwait(&one, nullptr, &now) == signal) {
    }
    if (!was_blocked_[signal]) pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  }

  bool has_source() const override { return true; }

  Task<> read_source() override {
    const int fd = fd_;
    absl::Status ready = co_await wait_readable(fd);
    GIAMBIO_CHECK(ready.ok(), "waiting for signals: ", ready.ToString());
    std::array<signalfd_siginfo, 16> infos;
    while (true) {
      const ssize_t n = ::read(fd, infos.data(), sizeof(infos));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EAGAIN: another reader was first, or the kernel merged the burst
      for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(signalfd_siginfo); ++i) {
        deliver(static_cast<int>(infos[i].ssi_signo));
      }
    }
  }

 private:
  std::mutex mutex_;
  int fd_ = -1;
  sigset_t watched_ = make_empty();
  std::array<bool, kMaxSignal + 1> was_blocked_ = {};

  static sigset_t make_empty() {
    sigset_t set;
    sigemptyset(&set);
    return set;
  }
};

// Why `signal` cannot be received, or nullptr.
const char* unreceivable(int signal) {
  switch (signal) {
    case SIGKILL:
    case SIGSTOP:
      return "cannot be caught or blocked";
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
      return "is synchronous (raised by the faulting thread itself), so it cannot wait for a "
             "receiver";
    default:
      break;
  }
  if (signal < 1 || signal > SignalHub::kMaxSignal) return "is no signal";
  if (signal > SIGSYS && signal < SIGRTMIN) return "is reserved by the C library";
  return nullptr;
}

}  // namespace

SignalHub& process_signals() {
  static SignalHub* const hub = new ProcessSignals();
  return *hub;
}

}  // namespace internal

std::string signal_name(int signal) {
  if (signal >= SIGRTMIN && signal <= SIGRTMAX) {
    return signal == SIGRTMIN ? "SIGRTMIN" : absl::StrCat("SIGRTMIN+", signal - SIGRTMIN);
  }
  const char* abbreviation = sigabbrev_np(signal);
  if (abbreviation == nullptr) return absl::StrCat("signal ", signal);
  return absl::StrCat("SIG", abbreviation);
}

SignalReceiver::SignalReceiver() = default;
SignalReceiver::SignalReceiver(SignalReceiver&& other) noexcept = default;
SignalReceiver& SignalReceiver::operator=(SignalReceiver&& other) noexcept {
  if (this != &other) {
    close();
    slot_ = std::move(other.slot_);
  }
  return *this;
}
SignalReceiver::~SignalReceiver() { close(); }

Task<int> SignalReceiver::receive() {
  if (slot_ == nullptr) throw UsageError("SignalReceiver::receive: the receiver is closed");
  slot_->loop->check_thread("SignalReceiver::receive");
  co_return co_await slot_->hub->receive(*slot_);
}

size_t SignalReceiver::pending() const { return slot_ == nullptr ? 0 : slot_->queue.size(); }

void SignalReceiver::close() {
  if (slot_ == nullptr) return;
  if (slot_->receiving > 0) {
    throw UsageError(
        "SignalReceiver::close: a task waits in receive() (cancel it before closing the "
        "receiver)");
  }
  slot_->hub->close(*slot_);
  slot_.reset();
}

absl::StatusOr<SignalReceiver> open_signal_receiver(std::span<const int> signals) {
  Loop& loop = Loop::current("open_signal_receiver");
  if (signals.empty()) {
    return absl::InvalidArgumentError("open_signal_receiver: no signals given");
  }
  auto slot = std::make_unique<internal::SignalSlot>();
  slot->loop = &loop;
  for (int signal : signals) {
    if (const char* why = internal::unreceivable(signal)) {
      return absl::InvalidArgumentError(
          absl::StrCat("open_signal_receiver(", signal_name(signal), "): ", why));
    }
    slot->listens |= internal::SignalSlot::bit(signal);
  }
  internal::SignalHub* hub = loop.driver().signal_hub();
  if (hub == nullptr) hub = &internal::process_signals();
  if (absl::Status opened = hub->open(*slot); !opened.ok()) return opened;
  SignalReceiver receiver;
  receiver.slot_ = std::move(slot);
  return receiver;
}

absl::StatusOr<SignalReceiver> open_signal_receiver(std::initializer_list<int> signals) {
  return open_signal_receiver(std::span<const int>(signals.begin(), signals.size()));
}

}  // namespace giambio
