// sim/history.h: what clients asked of a system and what they were told (a Jepsen history).
//
//   History& history = world.history();          // or a History of your own
//   OpId op = history.invoke(client, Op::write("x", "1"));
//   ... the request, over the simulated network ...
//   history.ok(op);                 // it happened: for a read, history.ok(op, "value read")
//   history.fail(op);               // it certainly did not happen (the server said no)
//   // neither (a timeout, a crash): its outcome stays unknown, as Jepsen's :info
//
// Each operation has a client (one client has one operation in flight at a time, like a Jepsen
// process), the host and task that ran it, and virtual times for its invocation and completion.
// The order of the records is the real order of the events (the simulation is one thread), so two
// operations at the same virtual time are still ordered; the checker (linearizability.h) uses
// that order. An operation of unknown outcome may have taken effect at any moment after its
// invocation, or never.
//
// A history is written with the trace (annotate): one track per client in a "history" process,
// one slice per operation, the operations of a checker's witness marked. Annotations do not enter
// the fingerprint.
//
// Simulation: this is the simulator's own bookkeeping; it never touches the real world.
#ifndef SIM_HISTORY_H_
#define SIM_HISTORY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sim/trace.h"

namespace giambio::sim {

using OpId = uint64_t;

// The Chrome trace's process that holds the history's tracks (hosts are 0..N).
inline constexpr uint32_t kHistoryTrack = 1000000;

// What a client asks of a key: read it, write it, or compare-and-set it.
struct Op {
  enum class Kind : uint8_t { kRead, kWrite, kCas };
  Kind kind = Kind::kRead;
  std::string key;
  std::string value;     // write: the value written; cas: the new value
  std::string expected;  // cas: the value it must find

  static Op read(std::string key) { return Op{Kind::kRead, std::move(key), "", ""}; }
  static Op write(std::string key, std::string value) {
    return Op{Kind::kWrite, std::move(key), std::move(value), ""};
  }
  static Op cas(std::string key, std::string expected, std::string value) {
    return Op{Kind::kCas, std::move(key), std::move(value), std::move(expected)};
  }
};

enum class Outcome : uint8_t {
  kUnknown,  // never learned (a timeout, a crash): it may have happened, or not
  kOk,       // it happened
  kFailed,   // it certainly did not happen
};

struct OpRecord {
  OpId id = 0;  // its index in History::operations()
  uint32_t client = 0;
  uint32_t host = 0;
  uint64_t task = 0;
  Op op;
  Outcome outcome = Outcome::kUnknown;
  std::string result;          // an ok read: the value it returned
  bool cas_succeeded = false;  // an ok cas: whether it found the expected value
  absl::Duration invoked;
  absl::Duration completed = absl::InfiniteDuration();  // infinite while unknown
  // The order of the invocation and completion among all records (completion: UINT64_MAX while
  // unknown). Real order, even within one virtual instant.
  uint64_t invoked_order = 0;
  uint64_t completed_order = UINT64_MAX;
};

// "write x=1", "read x -> 1", "cas x 1->2 -> ok", with the outcome when not ok.
std::string describe(const OpRecord& operation);

class History {
 public:
  // Where times and places come from when recording: the World gives its clock and the running
  // task's host and task; a History of one's own uses absl::ZeroDuration() and 0 unless given.
  struct Clock {
    std::function<absl::Duration()> now;
    std::function<uint32_t()> host;
    std::function<uint64_t()> task;
  };
  History() = default;
  explicit History(Clock clock) : clock_(std::move(clock)) {}

  // ---- Recording, from the client's task ----
  OpId invoke(uint32_t client, Op op);
  void ok(OpId id, std::string result = "");  // for a read: the value read
  void ok_cas(OpId id, bool succeeded);       // for a cas: whether it found the expected value
  void fail(OpId id);

  // ---- Hand-made histories (tests, other tools) ----
  // Adds a finished operation with explicit times: ids and orders are assigned here, orders
  // from the times (ties: invocations first, then in the order added).
  OpId add(uint32_t client, Op op, absl::Duration invoked, absl::Duration completed,
           Outcome outcome, std::string result = "", bool cas_succeeded = false);

  const std::vector<OpRecord>& operations() const;
  size_t size() const { return operations_.size(); }

  // One track per client under a "history" process, one slice per operation (an unknown one
  // runs to the end of the trace), those in `witness` marked "NOT LINEARIZABLE".
  void annotate(Trace& trace, const std::set<OpId>& witness = {}) const;

 private:
  OpRecord& pending(OpId id, const char* call);
  void finish(OpRecord& operation, Outcome outcome);

  Clock clock_;
  mutable std::vector<OpRecord> operations_;  // hand-made: orders set by operations()
  mutable bool orders_stale_ = false;
  uint64_t last_order_ = 0;
  bool hand_made_ = false;
  bool recorded_ = false;
};

}  // namespace giambio::sim

#endif  // SIM_HISTORY_H_
