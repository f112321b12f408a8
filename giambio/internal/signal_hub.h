// giambio/internal/signal_hub.h: where signal receivers (signals.h) get their signals from.
//
// A SignalHub is one "process": the real process (process_signals(): signalfd, the loop thread's
// mask), or a simulated host (sim/world.cc). It owns the receivers' slots and the one rule for
// handing signals out: deliver(signal) queues it in every open slot listening for it, at most
// once per slot until received, and wakes the waiting receivers. A hub with a source (the real
// process) is read by one waiting receiver at a time, which delivers what it read to all; a hub
// without one (a simulated host) is delivered to from outside.
#ifndef GIAMBIO_INTERNAL_SIGNAL_HUB_H_
#define GIAMBIO_INTERNAL_SIGNAL_HUB_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "giambio/internal/intrusive_list.h"
#include "giambio/parking_lot.h"
#include "giambio/task.h"

namespace giambio {
class Loop;
}

namespace giambio::internal {

class SignalHub;

// One open receiver: the signals it listens for and those it holds.
struct SignalSlot {
  static uint64_t bit(int signal) { return uint64_t{1} << (signal - 1); }

  SignalHub* hub = nullptr;
  Loop* loop = nullptr;
  uint64_t listens = 0;    // bit(signal) for each signal received here
  uint64_t queued = 0;     // bit(signal) for each signal in `queue`
  std::vector<int> queue;  // arrived, not yet received, in arrival order
  int receiving = 0;       // tasks inside receive()
  ListNode node;
};

class SignalHub {
 public:
  static constexpr int kMaxSignal = 64;

  virtual ~SignalHub() = default;

  // Registers `slot` (its `listens` set, on `loop`); watch() runs for each signal no slot
  // listened for before. On error nothing is registered.
  absl::Status open(SignalSlot& slot);
  // Unregisters `slot`; unwatch() runs for each signal no slot listens for any more.
  void close(SignalSlot& slot);
  // The signal arrived: every open slot listening for it takes it.
  void deliver(int signal);
  // The next signal for `slot` (reading the source while nobody else does).
  Task<int> receive(SignalSlot& slot);
  // Whether an open slot listens for `signal`.
  bool watched(int signal) const {
    return signal >= 1 && signal <= kMaxSignal && count_[signal] > 0;
  }

 protected:
  // First slot for `signal` opened / last one closed.
  virtual absl::Status watch(int signal) = 0;
  virtual void unwatch(int signal) = 0;
  // Whether signals come through read_source(); false: deliver() is called from outside.
  virtual bool has_source() const = 0;
  // Waits until the source has signals, then delivers them all.
  virtual Task<> read_source() { co_return; }

 private:
  IntrusiveList<SignalSlot, &SignalSlot::node> slots_;
  std::array<uint32_t, kMaxSignal + 1> count_ = {};  // open slots per signal
  Loop* loop_ = nullptr;                             // the loop of the open slots
  bool reading_ = false;                             // a receiver reads the source
  ParkingLot waiting_{"SignalReceiver::receive"};
};

// The real process's signals (a signalfd on the loop thread); lives as long as the process.
SignalHub& process_signals();

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_SIGNAL_HUB_H_
