#include "giambio/run.h"

#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace giambio::internal {
namespace {

// The second signal while main unwinds: the process ends now, by that signal, as it would have
// without giambio (the parent sees "killed by SIGINT").
[[noreturn]] void end_process_by(int signal) {
  struct sigaction action = {};
  action.sa_handler = SIG_DFL;
  sigaction(signal, &action, nullptr);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signal);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  raise(signal);
  _exit(128 + signal);  // a signal whose default action does not end the process
}

}  // namespace

SignalReceiver open_interrupt_receiver(const std::vector<int>& signals) {
  absl::StatusOr<SignalReceiver> receiver = open_signal_receiver(signals);
  if (!receiver.ok()) {
    throw UsageError(absl::StrCat("RunOptions::cancel_on_signals: ", receiver.status().message()));
  }
  return *std::move(receiver);
}

Task<> watch_for_interrupts(SignalReceiver& receiver, CancelScope& main_scope, int& signal) {
  signal = co_await receiver.receive();
  main_scope.cancel(signal_name(signal));
  const int again = co_await receiver.receive();
  end_process_by(again);
}

}  // namespace giambio::internal
