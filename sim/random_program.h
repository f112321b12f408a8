// sim/random_program.h: random programs that exercise giambio's runtime itself, the checker
// that runs them in a simulated world, and the shrinker that makes a failing one small.
//
//   Program p = generate_program(seed);
//   CheckResult r = check_program(p, seed);          // runs it; checks the invariants
//   if (!r.ok()) Program small = shrink_program(p, seed);   // still fails, fewer nodes
//
// A program is a tree of pools, tasks, sleeps, checkpoints, timeouts (with_timeout and
// skip_after), pools cancelled by a sibling, shields, error-catching blocks, locks, and
// channels with producer and consumer tasks, with failures (exceptions) planted in it. The
// checker runs it on giambio's scheduler with the simulator's driver (one seed decides the
// interleaving) and checks, after the run and as it goes:
//   - every task that started has ended, and the run did not deadlock;
//   - every error raised surfaced exactly once: caught by a catching block or out of the run;
//   - every channel item whose send succeeded was received exactly once (by a consumer or by
//     the final drain), and none whose send failed or was cancelled;
//   - a lock has at most one holder at a time and none at the end;
//   - virtual time matches the deadlines: a sleep ends exactly at its deadline, a timeout that
//     fired did so exactly at its deadline and a body that finished did so by it (bodies with
//     a shield may legitimately run over), a pool cancelled by a sibling ends when it was
//     cancelled.
// Generation and shrinking are deterministic: the seed alone reproduces the program, the run
// and the shrunk program.
#ifndef SIM_RANDOM_PROGRAM_H_
#define SIM_RANDOM_PROGRAM_H_

#include <cstdint>
#include <string>
#include <vector>

namespace giambio::sim {

struct Node {
  enum class Kind {
    kSleep,       // value: milliseconds
    kCheckpoint,  //
    kFail,        // value: the error's id (unique in the program)
    kSeq,         // children, one after another
    kPool,        // children, each a task in one pool
    kCancelPool,  // only as a pool's child: cancels that pool after `value` ms
    kTimeout,     // with_timeout(value ms, children[0])
    kSkipAfter,   // skip_after(value ms, children[0])
    kShield,      // children[0] in a shielded scope
    kCatch,       // children[0]; catches the errors it raises
    kLock,        // children[0] holding lock `value` (0 or 1)
    kChannel,     // a channel with buffer `value`: children[0] the producers' pool, [1] the
                  // consumers' (each a kPool)
    kSend,        // in a producer: sends `value` items
    kReceive,     // in a consumer: receives up to `value` items
  };
  Kind kind = Kind::kCheckpoint;
  int64_t value = 0;
  std::vector<Node> children;
};

struct Program {
  Node root;
  // "seq(sleep 3ms, pool(fail#1, timeout 2ms(shield(sleep 5ms))))"
  std::string to_string() const;
  int size() const;  // nodes
};

// For the test that proves the checker works: a bug planted in how the program runs.
enum class PlantedBug {
  kNone,
  // A lock node releases its lock only when its body ends normally (not on an error or a
  // cancellation): "lock held at the end".
  kLockLeakedOnUnwind,
  // A producer counts an item as sent before its send returns, so a cancelled send counts:
  // "item sent but never received".
  kCountSendBeforeItReturns,
};

struct CheckResult {
  std::vector<std::string> violations;  // empty: every invariant held
  bool ok() const { return violations.empty(); }
  std::string to_string() const;  // the violations, one per line
};

Program generate_program(uint64_t seed);
// Checks the program's structure (where sends, receives, pool cancels and lock bodies may be).
bool is_valid(const Program& program);
CheckResult check_program(const Program& program, uint64_t seed,
                          PlantedBug bug = PlantedBug::kNone);
// The smallest program the greedy search finds (removing children, replacing a node by its
// child, lowering numbers) that still fails check_program with `seed`; at most `max_attempts`
// runs.
Program shrink_program(const Program& failing, uint64_t seed, PlantedBug bug = PlantedBug::kNone,
                       int max_attempts = 5000);

}  // namespace giambio::sim

#endif  // SIM_RANDOM_PROGRAM_H_
