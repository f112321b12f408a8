#include "sim/linearizability.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace giambio::sim {
namespace {

constexpr uint64_t kNever = UINT64_MAX;  // the completion of an operation of unknown outcome

// One operation of one key, its values interned as small integers.
struct KeyOp {
  OpId id = 0;
  Op::Kind kind = Op::Kind::kRead;
  bool known = true;  // the outcome is ok (false: unknown)
  bool cas_succeeded = false;
  int value = 0;     // write, cas: the new value
  int expected = 0;  // cas
  int result = 0;    // ok read
  uint64_t call = 0;
  uint64_t ret = kNever;

  // Whether it cannot change the register (removable from a witness without making it wrong).
  bool changes_nothing() const {
    return known && (kind == Op::Kind::kRead || (kind == Op::Kind::kCas && !cas_succeeded));
  }
};

// The register's step: whether `op` may take effect on `state`, and the state after it.
bool step(const KeyOp& op, int state, int& next) {
  switch (op.kind) {
    case Op::Kind::kRead:
      next = state;
      return state == op.result;
    case Op::Kind::kWrite:
      next = op.value;
      return true;
    case Op::Kind::kCas:
      if (!op.known) {  // it may be placed last, where taking effect is invisible
        next = state == op.expected ? op.value : state;
        return true;
      }
      if (op.cas_succeeded) {
        next = op.value;
        return state == op.expected;
      }
      next = state;
      return state != op.expected;
  }
  return false;
}

// The search's memory: (operations linearized, register value) already seen.
struct Seen {
  std::vector<uint64_t> bits;
  int state = 0;
  bool operator==(const Seen& other) const = default;
};
struct SeenHash {
  size_t operator()(const Seen& seen) const {
    uint64_t hash = 1469598103934665603ull ^ static_cast<uint64_t>(seen.state);
    for (uint64_t word : seen.bits) hash = (hash ^ word) * 1099511628211ull;
    return static_cast<size_t>(hash);
  }
};

enum class Search { kLinearizable, kNot, kBudget };

// Wing-Gong-Lowe over one key's operations, with the cache (Lowe's improvement).
Search search(const std::vector<KeyOp>& ops, int initial, uint64_t& budget, uint64_t& steps) {
  const size_t n = ops.size();
  if (n == 0) return Search::kLinearizable;
  // The list of calls and returns in real order: entry 2i is op i's call, 2i+1 its return; the
  // head sentinel is 2n.
  struct Entry {
    size_t prev = 0;
    size_t next = 0;
  };
  const size_t head = 2 * n;
  const size_t none = 2 * n + 1;
  std::vector<std::pair<uint64_t, size_t>> order;
  order.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    order.emplace_back(ops[i].call, 2 * i);
    // Unknown completions all sort last, in call order (each may be placed anywhere after it).
    order.emplace_back(ops[i].ret == kNever ? kNever - n + i : ops[i].ret, 2 * i + 1);
  }
  std::sort(order.begin(), order.end());
  std::vector<Entry> list(2 * n + 1);
  size_t last = head;
  for (const auto& [when, entry] : order) {
    list[last].next = entry;
    list[entry].prev = last;
    last = entry;
  }
  list[last].next = none;
  auto lift = [&](size_t call) {
    for (size_t entry : {call, call + 1}) {
      list[list[entry].prev].next = list[entry].next;
      if (list[entry].next != none) list[list[entry].next].prev = list[entry].prev;
    }
  };
  auto unlift = [&](size_t call) {
    for (size_t entry : {call + 1, call}) {
      list[list[entry].prev].next = entry;
      if (list[entry].next != none) list[list[entry].next].prev = entry;
    }
  };

  std::unordered_set<Seen, SeenHash> seen;
  Seen current{std::vector<uint64_t>((n + 63) / 64, 0), initial};
  std::vector<std::pair<size_t, int>> stack;  // (call entry, state before it)
  size_t entry = list[head].next;
  while (list[head].next != none) {
    if (budget == 0) return Search::kBudget;
    --budget;
    ++steps;
    if (entry % 2 == 0) {  // a call: try to linearize its operation here
      const size_t i = entry / 2;
      int next = 0;
      if (step(ops[i], current.state, next)) {
        Seen after = current;
        after.bits[i / 64] |= uint64_t{1} << (i % 64);
        after.state = next;
        if (seen.insert(after).second) {
          stack.emplace_back(entry, current.state);
          current = std::move(after);
          lift(entry);
          entry = list[head].next;
          continue;
        }
      }
      entry = list[entry].next;
    } else {  // a return whose operation is not linearized yet: undo the last choice
      if (stack.empty()) return Search::kNot;
      const auto [call, state] = stack.back();
      stack.pop_back();
      const size_t i = call / 2;
      current.bits[i / 64] &= ~(uint64_t{1} << (i % 64));
      current.state = state;
      unlift(call);
      entry = list[call].next;
    }
  }
  return Search::kLinearizable;
}

// The operations of `ops` invoked before the cut, those still running at it made unknown (and
// reads among them dropped: an unknown read tells nothing).
std::vector<KeyOp> prefix(const std::vector<KeyOp>& ops, uint64_t cut) {
  std::vector<KeyOp> kept;
  for (KeyOp op : ops) {
    if (op.call > cut) continue;
    if (op.ret > cut) {
      if (op.kind == Op::Kind::kRead) continue;
      op.known = false;
      op.ret = kNever;
    }
    kept.push_back(op);
  }
  return kept;
}

// A key's operations that fail: the shortest failing prefix, then without every operation that
// changes nothing and is not needed, then without every write (with what depends on its value)
// that is not needed. Returns the witness, or empty if the budget ran out first.
std::vector<KeyOp> minimize(const std::vector<KeyOp>& ops, int initial, uint64_t& budget,
                            uint64_t& steps) {
  std::vector<uint64_t> cuts;
  for (const KeyOp& op : ops) {
    if (op.ret != kNever) cuts.push_back(op.ret);
  }
  std::sort(cuts.begin(), cuts.end());
  // Linearizability is closed under prefixes, so the failing cuts are a suffix of `cuts`.
  size_t low = 0;
  size_t high = cuts.size() - 1;  // the whole history fails
  while (low < high) {
    const size_t mid = (low + high) / 2;
    const Search result = search(prefix(ops, cuts[mid]), initial, budget, steps);
    if (result == Search::kBudget) return ops;
    if (result == Search::kNot) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  std::vector<KeyOp> witness = prefix(ops, cuts[low]);
  for (size_t i = 0; i < witness.size();) {
    if (!witness[i].changes_nothing()) {
      ++i;
      continue;
    }
    std::vector<KeyOp> without = witness;
    without.erase(without.begin() + static_cast<ptrdiff_t>(i));
    const Search result = search(without, initial, budget, steps);
    if (result == Search::kBudget) return witness;
    if (result == Search::kNot) {
      witness = std::move(without);
    } else {
      ++i;
    }
  }
  // Then a write (or cas) goes together with what depends on its value, latest first, while the
  // rest still fails. Sound too: a linearization of the whole, without such a group, still
  // linearizes the rest. The group: the write, every read of its value, every cas that expected
  // its value (took effect, or may have) with that cas's own group, and every cas that failed
  // (which might otherwise see the value the write covered).
  for (size_t i = witness.size(); i-- > 0;) {
    if (i >= witness.size() || witness[i].changes_nothing()) continue;
    std::vector<bool> drop(witness.size(), false);
    std::vector<int> values = {witness[i].value};
    drop[i] = true;
    while (!values.empty()) {
      const int value = values.back();
      values.pop_back();
      for (size_t j = 0; j < witness.size(); ++j) {
        const KeyOp& op = witness[j];
        if (drop[j]) continue;
        const bool reads_it = op.known && op.kind == Op::Kind::kRead && op.result == value;
        const bool failed_cas = op.known && op.kind == Op::Kind::kCas && !op.cas_succeeded;
        const bool cas_on_it = op.kind == Op::Kind::kCas && op.expected == value && !failed_cas;
        if (!reads_it && !failed_cas && !cas_on_it) continue;
        drop[j] = true;
        if (cas_on_it) values.push_back(op.value);
      }
    }
    std::vector<KeyOp> without;
    for (size_t j = 0; j < witness.size(); ++j) {
      if (!drop[j]) without.push_back(witness[j]);
    }
    if (without.empty()) continue;
    const Search result = search(without, initial, budget, steps);
    if (result == Search::kBudget) return witness;
    if (result == Search::kNot) witness = std::move(without);
  }
  return witness;
}

std::string when(absl::Duration time) {
  return time == absl::InfiniteDuration() ? "never" : absl::FormatDuration(time);
}

}  // namespace

LinearizabilityResult check_linearizability(const History& history,
                                            const LinearizabilityOptions& options) {
  LinearizabilityResult result;
  // Each key's operations, its values interned (the initial value is 0).
  struct Key {
    std::map<std::string, int> values;
    std::vector<KeyOp> ops;
    int intern(const std::string& value) {
      return values.try_emplace(value, static_cast<int>(values.size())).first->second;
    }
  };
  std::map<std::string, Key> keys;
  for (const OpRecord& operation : history.operations()) {
    if (operation.outcome == Outcome::kFailed) continue;
    if (operation.outcome == Outcome::kUnknown && operation.op.kind == Op::Kind::kRead) continue;
    Key& key = keys[operation.op.key];
    if (key.values.empty()) key.intern(options.initial_value);
    KeyOp op;
    op.id = operation.id;
    op.kind = operation.op.kind;
    op.known = operation.outcome == Outcome::kOk;
    op.cas_succeeded = operation.cas_succeeded;
    op.value = key.intern(operation.op.value);
    op.expected = key.intern(operation.op.expected);
    op.result = key.intern(operation.result);
    op.call = operation.invoked_order;
    op.ret = op.known ? operation.completed_order : kNever;
    key.ops.push_back(op);
  }
  result.keys = keys.size();
  uint64_t budget = options.budget;
  bool out_of_budget = false;
  for (auto& [name, key] : keys) {
    const Search verdict = search(key.ops, 0, budget, result.steps);
    if (verdict == Search::kLinearizable) continue;
    if (verdict == Search::kBudget) {
      out_of_budget = true;
      break;
    }
    result.verdict = LinearizabilityResult::kNotLinearizable;
    result.key = name;
    const std::vector<KeyOp> witness = minimize(key.ops, 0, budget, result.steps);
    for (const KeyOp& op : witness) result.witness.push_back(op.id);
    std::sort(result.witness.begin(), result.witness.end(), [&](OpId a, OpId b) {
      return history.operations()[a].invoked_order < history.operations()[b].invoked_order;
    });
    result.explanation = absl::StrCat("not linearizable: key '", name, "': these ",
                                      result.witness.size(), " operations cannot be ordered:\n");
    for (OpId id : result.witness) {
      const OpRecord& operation = history.operations()[id];
      absl::StrAppend(&result.explanation, "  op ", id, " client ", operation.client, " [",
                      when(operation.invoked), ", ", when(operation.completed), "] ",
                      describe(operation), "\n");
    }
    return result;
  }
  if (out_of_budget) {
    result.verdict = LinearizabilityResult::kUnknown;
    result.explanation = absl::StrCat("unknown: budget exceeded (", options.budget,
                                      " search steps) before every key was checked\n");
    return result;
  }
  result.explanation =
      absl::StrCat("linearizable: ", history.size(), " operations over ", result.keys, " keys\n");
  return result;
}

}  // namespace giambio::sim
