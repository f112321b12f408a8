// giambio/signals.h: receiving POSIX signals as ordinary awaitable events (Trio's
// open_signal_receiver, Go's signal.Notify).
//
//   absl::StatusOr<giambio::SignalReceiver> signals =
//       giambio::open_signal_receiver({SIGTERM, SIGHUP});
//   while (true) {
//     const int signal = co_await signals->receive();   // SIGTERM or SIGHUP
//     if (signal == SIGHUP) reload(); else break;
//   }
//
// While a receiver is open, its signals are blocked on the loop's thread and read through a
// signalfd (io_uring and epoll alike), so they never interrupt code at a random point: they
// arrive as values at a receive(). When the last receiver for a signal closes, a signal that
// arrived and was taken by nobody is dropped, and the signal's previous blocked/unblocked state
// comes back; its action (handler, ignore, default) is never changed.
//
// Several receivers may be open at once, for the same signals or not: a signal goes to every
// receiver open for it (a broadcast, as in Go), when the loop takes it from the kernel, which is
// at once while any task waits in receive() and otherwise at the next receive(). What is kept:
// the kernel merges a burst of one signal into one (a standard signal is pending or not), and
// each receiver keeps each signal at most once until it is received, in the order the loop took
// them (the kernel hands out signals pending together lowest number first). So a burst is at
// least one delivery, and a receiver never holds more than one entry per signal.
//
// Signals that cannot be received this way are refused with InvalidArgument naming the signal:
// SIGKILL and SIGSTOP (cannot be caught), SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS
// (synchronous: raised by the faulting thread itself), and glibc's two internal real-time
// signals. Threads: only the loop's thread blocks the signals. giambio's own threads block every
// signal; a thread you start yourself should block them too (or be started after the receiver
// opens, inheriting the mask), else the kernel may hand it a signal and its old action runs.
// One loop at a time receives the process's signals.
//
// Simulation: works, deterministically. Each simulated host has its own signals, delivered by
// sim::World::signal(host, SIGTERM) at the current virtual time (sim/world.h). The virtual-clock
// driver has no signals: opening a receiver on it is a UsageError.
#ifndef GIAMBIO_SIGNALS_H_
#define GIAMBIO_SIGNALS_H_

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "giambio/task.h"

namespace giambio {

namespace internal {
struct SignalSlot;
}

class SignalReceiver {
 public:
  SignalReceiver();  // closed
  SignalReceiver(SignalReceiver&& other) noexcept;
  SignalReceiver& operator=(SignalReceiver&& other) noexcept;
  ~SignalReceiver();

  // Waits for the next signal that arrived for this receiver and returns its number. A cancel
  // point; a cancelled receive takes no signal. UsageError on a closed receiver.
  Task<int> receive();
  // Signals arrived and not yet received (each at most once).
  size_t pending() const;
  // Stops receiving (as the destructor does). UsageError while a task waits in receive().
  void close();
  bool is_open() const { return slot_ != nullptr; }

 private:
  friend absl::StatusOr<SignalReceiver> open_signal_receiver(std::span<const int> signals);
  std::unique_ptr<internal::SignalSlot> slot_;
};

// Opens a receiver for `signals` on the current loop (UsageError outside one). InvalidArgument
// naming the signal for one that cannot be received (above) or does not exist; an empty list is
// InvalidArgument too.
absl::StatusOr<SignalReceiver> open_signal_receiver(std::span<const int> signals);
absl::StatusOr<SignalReceiver> open_signal_receiver(std::initializer_list<int> signals);

// "SIGTERM", "SIGRTMIN+3", or "signal 99" for a number that is none.
std::string signal_name(int signal);

}  // namespace giambio

#endif  // GIAMBIO_SIGNALS_H_
