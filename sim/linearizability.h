// sim/linearizability.h: is a history (sim/history.h) of reads, writes and compare-and-sets on
// keys linearizable? (Herlihy and Wing: every operation seems to take effect at one instant
// between its invocation and its completion, in an order a single register per key allows.)
//
//   LinearizabilityResult r = check_linearizability(world.history());
//   if (r.verdict == LinearizabilityResult::kNotLinearizable) std::cout << r.explanation;
//
// The search is the Wing-Gong-Lowe algorithm as Porcupine runs it: operations are linearized in
// real-time order with backtracking, and a cache of (set of operations linearized, register
// value) prunes every state already seen. Keys are independent (P-compositionality): each key's
// operations are checked alone, so a history over many keys costs about the sum of small ones.
//
// Outcomes: an ok operation happened within its interval; a failed one never happened (dropped);
// one of unknown outcome may have happened at any moment after its invocation, or never (an
// unknown read tells nothing and is dropped). Operations are ordered by the history's real order
// of events, so two at the same virtual time are still ordered as they happened.
//
// Answers: linearizable; not linearizable, with a witness: the key, and the fewest operations of
// it found that cannot be ordered (the shortest failing prefix of the key's history; then every
// operation that changes nothing and is not needed for the failure removed; then every write not
// needed, together with the operations that depend on its value: the reads of it, the cas that
// expected it, the failed cas. A sound witness: removing such operations from a linearizable
// history leaves it linearizable, so no operation left out can repair it); or unknown, when the
// search spent its budget of steps (it never runs away).
#ifndef SIM_LINEARIZABILITY_H_
#define SIM_LINEARIZABILITY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "sim/history.h"

namespace giambio::sim {

struct LinearizabilityOptions {
  // Every key's value before its first write (a read of a key never written returns it).
  std::string initial_value = "";
  // Search steps over the whole check (witness search included); beyond them: kUnknown.
  uint64_t budget = 50'000'000;
};

struct LinearizabilityResult {
  enum Verdict { kLinearizable, kNotLinearizable, kUnknown };
  Verdict verdict = kLinearizable;
  std::string key;            // kNotLinearizable: whose operations cannot be ordered
  std::vector<OpId> witness;  // ...the fewest of them found, in invocation order
  uint64_t steps = 0;         // search steps taken
  size_t keys = 0;            // keys checked
  std::string explanation;    // printable: the verdict and the witness, one operation a line
};

LinearizabilityResult check_linearizability(const History& history,
                                            const LinearizabilityOptions& options = {});

}  // namespace giambio::sim

#endif  // SIM_LINEARIZABILITY_H_
