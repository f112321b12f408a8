// Histories and the linearizability checker: hand-made histories with known answers (the classic
// ones among them), a randomized cross-check against a brute-force checker, and a history recorded
// in a World and drawn into its trace.
#include "sim/linearizability.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/giambio.h"
#include "giambio/prng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/history.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::Duration ms(int n) { return absl::Milliseconds(n); }

// An ok operation of `client` between `from` and `to` milliseconds.
OpId ok(History& h, uint32_t client, Op op, int from, int to, std::string result = "") {
  return h.add(client, std::move(op), ms(from), ms(to), Outcome::kOk, std::move(result));
}
OpId ok_cas(History& h, uint32_t client, Op op, int from, int to, bool succeeded) {
  return h.add(client, std::move(op), ms(from), ms(to), Outcome::kOk, "", succeeded);
}

LinearizabilityResult::Verdict verdict(const History& h) {
  return check_linearizability(h).verdict;
}

TEST(LinearizabilityTest, ASequentialHistoryIsLinearizable) {
  History h;
  ok(h, 1, Op::read("x"), 0, 1, "");
  ok(h, 1, Op::write("x", "1"), 2, 3);
  ok(h, 1, Op::read("x"), 4, 5, "1");
  ok_cas(h, 1, Op::cas("x", "1", "2"), 6, 7, true);
  ok_cas(h, 1, Op::cas("x", "1", "3"), 8, 9, false);
  ok(h, 1, Op::read("x"), 10, 11, "2");
  const LinearizabilityResult r = check_linearizability(h);
  EXPECT_EQ(r.verdict, LinearizabilityResult::kLinearizable) << r.explanation;
  EXPECT_THAT(r.explanation, HasSubstr("linearizable: 6 operations over 1 keys"));
}

// Overlapping operations may take effect in either order.
TEST(LinearizabilityTest, ConcurrentOperationsMayTakeEffectInEitherOrder) {
  History h;
  ok(h, 1, Op::write("x", "1"), 0, 10);
  ok(h, 2, Op::write("x", "2"), 1, 11);
  ok(h, 3, Op::read("x"), 2, 3, "2");    // 2 first...
  ok(h, 3, Op::read("x"), 12, 13, "1");  // ...then 1 (so write 2 took effect before write 1)
  EXPECT_EQ(verdict(h), LinearizabilityResult::kLinearizable);
}

// A stale read: once write 2 has completed, nobody may read 1.
TEST(LinearizabilityTest, AStaleReadIsNotLinearizableAndItsWitnessIsMinimal) {
  History h;
  const OpId w1 = ok(h, 1, Op::write("x", "1"), 0, 1);
  const OpId w2 = ok(h, 1, Op::write("x", "2"), 2, 3);
  ok(h, 2, Op::read("x"), 2, 3, "2");  // fine, and not needed for the failure
  const OpId stale = ok(h, 2, Op::read("x"), 4, 5, "1");
  ok(h, 1, Op::read("x"), 6, 7, "2");  // after the failure
  const LinearizabilityResult r = check_linearizability(h);
  ASSERT_EQ(r.verdict, LinearizabilityResult::kNotLinearizable);
  EXPECT_EQ(r.key, "x");
  EXPECT_THAT(r.witness, ElementsAre(w1, w2, stale));
  EXPECT_THAT(r.explanation, HasSubstr("key 'x': these 3 operations cannot be ordered"));
  EXPECT_THAT(r.explanation, HasSubstr("read x -> '1'"));
}

// Writes and compare-and-sets that the failure does not need leave the witness, with what
// depends on their values: of a busy history only the stale read and the two writes it spans stay.
TEST(LinearizabilityTest, AWitnessKeepsOnlyTheWritesTheFailureNeeds) {
  History h;
  int t = 0;
  for (int n = 0; n < 20; ++n) {  // three clients write, read back and cas, one after another
    const std::string value = absl::StrCat("v", n);
    ok(h, n % 3, Op::write("x", value), t, t + 1);
    ok(h, (n + 1) % 3, Op::read("x"), t + 2, t + 3, value);
    const std::string next = absl::StrCat("c", n);
    ok_cas(h, (n + 2) % 3, Op::cas("x", value, next), t + 4, t + 5, /*succeeded=*/true);
    ok_cas(h, n % 3, Op::cas("x", value, "never"), t + 6, t + 7, /*succeeded=*/false);
    t += 10;
  }
  const OpId w_old = ok(h, 0, Op::write("x", "old"), t, t + 1);
  const OpId w_new = ok(h, 1, Op::write("x", "new"), t + 2, t + 3);
  const OpId stale = ok(h, 2, Op::read("x"), t + 4, t + 5, "old");
  const LinearizabilityResult r = check_linearizability(h);
  ASSERT_EQ(r.verdict, LinearizabilityResult::kNotLinearizable);
  EXPECT_THAT(r.witness, ElementsAre(w_old, w_new, stale));
}

// The new-old inversion (Herlihy and Wing's register example; Jepsen's "stale read after a newer
// read"): while a write is in flight, a read that saw the new value is followed by one that sees
// the old.
TEST(LinearizabilityTest, ANewOldInversionDuringAWriteIsNotLinearizable) {
  History h;
  const OpId w = ok(h, 1, Op::write("x", "1"), 0, 10);
  ok(h, 2, Op::read("x"), 1, 2, "");  // the old value: fine so far
  const OpId saw_new = ok(h, 2, Op::read("x"), 3, 4, "1");
  const OpId saw_old = ok(h, 3, Op::read("x"), 5, 6, "");
  const LinearizabilityResult r = check_linearizability(h);
  ASSERT_EQ(r.verdict, LinearizabilityResult::kNotLinearizable);
  EXPECT_THAT(r.witness, ElementsAre(w, saw_new, saw_old));
}

// Unknown outcomes (a timeout, a crash) may have taken effect, at any later moment, or never;
// failed ones never did.
TEST(LinearizabilityTest, UnknownOperationsMayHaveHappenedFailedOnesDidNot) {
  {
    History h;  // an unknown write explains a later read...
    h.add(1, Op::write("x", "1"), ms(0), ms(0), Outcome::kUnknown);
    ok(h, 2, Op::read("x"), 5, 6, "1");
    ok(h, 2, Op::read("x"), 7, 8, "1");
    EXPECT_EQ(verdict(h), LinearizabilityResult::kLinearizable);
  }
  {
    History h;  // ...or none at all
    h.add(1, Op::write("x", "1"), ms(0), ms(0), Outcome::kUnknown);
    ok(h, 2, Op::read("x"), 5, 6, "");
    EXPECT_EQ(verdict(h), LinearizabilityResult::kLinearizable);
  }
  {
    History h;  // but not before it was invoked
    ok(h, 2, Op::read("x"), 0, 1, "1");
    h.add(1, Op::write("x", "1"), ms(2), ms(2), Outcome::kUnknown);
    EXPECT_EQ(verdict(h), LinearizabilityResult::kNotLinearizable);
  }
  {
    History h;  // a failed write explains nothing
    h.add(1, Op::write("x", "1"), ms(0), ms(1), Outcome::kFailed);
    ok(h, 2, Op::read("x"), 5, 6, "1");
    EXPECT_EQ(verdict(h), LinearizabilityResult::kNotLinearizable);
  }
  {
    History h;  // an unknown cas took effect only if it found its value
    h.add(1, Op::cas("x", "", "1"), ms(0), ms(0), Outcome::kUnknown);
    ok(h, 2, Op::read("x"), 5, 6, "1");
    EXPECT_EQ(verdict(h), LinearizabilityResult::kLinearizable);
    History other;
    other.add(1, Op::cas("x", "7", "1"), ms(0), ms(0), Outcome::kUnknown);
    ok(other, 2, Op::read("x"), 5, 6, "1");
    EXPECT_EQ(verdict(other), LinearizabilityResult::kNotLinearizable);
  }
}

TEST(LinearizabilityTest, ACasMustAgreeWithTheValueItFound) {
  History h;
  ok_cas(h, 1, Op::cas("x", "", "1"), 0, 1, false);  // it found "" and says it did not
  EXPECT_EQ(verdict(h), LinearizabilityResult::kNotLinearizable);
  History two;  // two cas from the same value both succeeding: one of them lies
  ok_cas(two, 1, Op::cas("x", "", "1"), 0, 5, true);
  ok_cas(two, 2, Op::cas("x", "", "2"), 0, 5, true);
  EXPECT_EQ(verdict(two), LinearizabilityResult::kNotLinearizable);
}

// Keys are checked alone: the failing key is named, the others do not matter.
TEST(LinearizabilityTest, KeysAreIndependentAndTheFailingOneIsNamed) {
  History h;
  ok(h, 1, Op::write("a", "1"), 0, 1);
  ok(h, 2, Op::read("a"), 2, 3, "1");
  ok(h, 1, Op::write("b", "1"), 0, 1);
  ok(h, 2, Op::read("b"), 2, 3, "2");
  const LinearizabilityResult r = check_linearizability(h);
  EXPECT_EQ(r.verdict, LinearizabilityResult::kNotLinearizable);
  EXPECT_EQ(r.key, "b");
  EXPECT_EQ(r.keys, 2u);
  LinearizabilityOptions initial;
  initial.initial_value = "2";  // b was "2" all along; the initial value is an option
  History only_b;
  ok(only_b, 2, Op::read("b"), 2, 3, "2");
  EXPECT_EQ(check_linearizability(only_b, initial).verdict, LinearizabilityResult::kLinearizable);
}

// The search never runs away: out of budget, the answer is "unknown".
TEST(LinearizabilityTest, ABudgetTooSmallAnswersUnknown) {
  History h;
  for (int c = 0; c < 8; ++c) ok(h, c, Op::write("x", absl::StrCat(c)), 0, 100);
  ok(h, 9, Op::read("x"), 101, 102, "nobody wrote this");
  LinearizabilityOptions tiny;
  tiny.budget = 20;
  const LinearizabilityResult r = check_linearizability(h, tiny);
  EXPECT_EQ(r.verdict, LinearizabilityResult::kUnknown);
  EXPECT_THAT(r.explanation, HasSubstr("unknown: budget exceeded (20 search steps)"));
  EXPECT_EQ(verdict(h), LinearizabilityResult::kNotLinearizable);
}

// ---- Against a brute-force checker ----

// Every order of the operations that respects real time, with every choice of which unknown
// writes and cas took effect: a history is linearizable if one of them explains every result.
bool brute_force(const History& history) {
  std::map<std::string, std::vector<const OpRecord*>> keys;
  for (const OpRecord& op : history.operations()) {
    if (op.outcome == Outcome::kFailed) continue;
    if (op.outcome == Outcome::kUnknown && op.op.kind == Op::Kind::kRead) continue;
    keys[op.op.key].push_back(&op);
  }
  for (auto& [key, ops] : keys) {
    std::vector<const OpRecord*> unknown;
    std::vector<const OpRecord*> known;
    for (const OpRecord* op : ops) (op->outcome == Outcome::kOk ? known : unknown).push_back(op);
    bool explained = false;
    for (uint32_t subset = 0; subset < (1u << unknown.size()) && !explained; ++subset) {
      std::vector<const OpRecord*> chosen = known;
      for (size_t i = 0; i < unknown.size(); ++i) {
        if (subset & (1u << i)) chosen.push_back(unknown[i]);
      }
      std::sort(chosen.begin(), chosen.end());
      do {
        bool legal = true;
        for (size_t i = 0; i < chosen.size() && legal; ++i) {
          for (size_t j = i + 1; j < chosen.size() && legal; ++j) {
            // j placed after i, but it completed before i was invoked: real time says no.
            if (chosen[j]->completed_order < chosen[i]->invoked_order) legal = false;
          }
        }
        std::string state;
        for (size_t i = 0; i < chosen.size() && legal; ++i) {
          const OpRecord& op = *chosen[i];
          switch (op.op.kind) {
            case Op::Kind::kRead:
              legal = state == op.result;
              break;
            case Op::Kind::kWrite:
              state = op.op.value;
              break;
            case Op::Kind::kCas:
              if (op.outcome == Outcome::kOk && op.cas_succeeded != (state == op.op.expected)) {
                legal = false;
              } else if (state == op.op.expected) {
                state = op.op.value;
              }
              break;
          }
        }
        explained = legal;
      } while (!explained && std::next_permutation(chosen.begin(), chosen.end()));
    }
    if (!explained) return false;
  }
  return true;
}

// A random small history: up to 3 clients, each with operations one after another, on one or two
// keys, values from a tiny set (so reads often match), outcomes mostly ok.
History random_history(Prng& prng) {
  History h;
  const int clients = 1 + static_cast<int>(prng.uniform(3));
  const int per_client = 1 + static_cast<int>(prng.uniform(2));  // at most 6 operations
  const char* values[] = {"", "1", "2"};
  for (int c = 0; c < clients; ++c) {
    int t = static_cast<int>(prng.uniform(3));
    for (int n = 0; n < per_client; ++n) {
      const std::string key = prng.uniform(4) == 0 ? "y" : "x";
      const int start = t;
      const int end = start + 1 + static_cast<int>(prng.uniform(6));
      t = end + static_cast<int>(prng.uniform(2));
      const double fate = prng.uniform_double();
      const Outcome outcome =
          fate < 0.75 ? Outcome::kOk : (fate < 0.9 ? Outcome::kUnknown : Outcome::kFailed);
      Op op;
      switch (prng.uniform(3)) {
        case 0:
          op = Op::read(key);
          break;
        case 1:
          op = Op::write(key, values[prng.uniform(3)]);
          break;
        default:
          op = Op::cas(key, values[prng.uniform(3)], values[prng.uniform(3)]);
      }
      const bool is_read = op.kind == Op::Kind::kRead;
      h.add(c, std::move(op), ms(start), ms(end), outcome, is_read ? values[prng.uniform(3)] : "",
            prng.chance(0.5));
      if (outcome == Outcome::kUnknown) break;  // a client that lost track stops
    }
  }
  return h;
}

TEST(LinearizabilityTest, AgreesWithABruteForceCheckerOnRandomSmallHistories) {
  Prng prng(20261130);
  int linearizable = 0;
  int not_linearizable = 0;
  for (int i = 0; i < 4000; ++i) {
    const History h = random_history(prng);
    const LinearizabilityResult r = check_linearizability(h);
    ASSERT_NE(r.verdict, LinearizabilityResult::kUnknown);
    const bool expected = brute_force(h);
    ASSERT_EQ(r.verdict == LinearizabilityResult::kLinearizable, expected)
        << "history " << i << ":\n"
        <<
        [&] {
          std::string text;
          for (const OpRecord& op : h.operations()) {
            absl::StrAppend(&text, "  client ", op.client, " [", absl::FormatDuration(op.invoked),
                            ", ", absl::FormatDuration(op.completed), "] ", describe(op), "\n");
          }
          return text;
        }();
    if (expected) {
      ++linearizable;
    } else {
      ++not_linearizable;
      // The witness is itself a history that cannot be ordered (it is sound).
      History witness;
      for (OpId id : r.witness) {
        const OpRecord& op = h.operations()[id];
        witness.add(op.client, op.op, op.invoked, op.completed, op.outcome, op.result,
                    op.cas_succeeded);
      }
      EXPECT_FALSE(brute_force(witness)) << "history " << i << ": an unsound witness";
      // ...and it proves the failure: no operation of its key that it left out repairs it
      // (every history between the witness and the whole key's history cannot be ordered).
      std::vector<OpId> left_out;
      for (const OpRecord& op : h.operations()) {
        if (op.op.key == r.key &&
            std::find(r.witness.begin(), r.witness.end(), op.id) == r.witness.end()) {
          left_out.push_back(op.id);
        }
      }
      for (uint32_t subset = 1; subset < (1u << left_out.size()); ++subset) {
        std::vector<OpId> ids = r.witness;
        for (size_t b = 0; b < left_out.size(); ++b) {
          if (subset & (1u << b)) ids.push_back(left_out[b]);
        }
        std::sort(ids.begin(), ids.end());
        History between;
        for (OpId id : ids) {
          const OpRecord& op = h.operations()[id];
          between.add(op.client, op.op, op.invoked, op.completed, op.outcome, op.result,
                      op.cas_succeeded);
        }
        EXPECT_FALSE(brute_force(between))
            << "history " << i << ": the witness leaves out operations that repair it";
      }
    }
  }
  // Both answers were exercised, many times.
  EXPECT_GT(linearizable, 500);
  EXPECT_GT(not_linearizable, 500);
}

// ---- Recorded in a World, drawn into its trace ----

TEST(HistoryTest, AWorldRecordsItsClientsWithTimesAndHostsAndDrawsThemInTheTrace) {
  World world({.seed = 3, .keep_trace = true});
  Host& client = world.add_host("client");
  std::string value;  // a register the client reaches in 2 ms
  world.run([&]() -> Task<> {
    co_await world.on(client, [&]() -> Task<> {
      History& history = world.history();
      const OpId write = history.invoke(1, Op::write("x", "1"));
      co_await sleep(ms(2));
      value = "1";
      history.ok(write);
      const OpId read = history.invoke(1, Op::read("x"));
      co_await sleep(ms(2));
      history.ok(read, value);
      history.invoke(2, Op::write("x", "2"));  // never answered
      co_await sleep(ms(1));
    }());
  });
  const History& history = world.history();
  ASSERT_EQ(history.size(), 3u);
  const OpRecord& write = history.operations()[0];
  EXPECT_EQ(write.host, client.id());
  EXPECT_NE(write.task, 0u);
  EXPECT_EQ(write.completed - write.invoked, ms(2));
  EXPECT_EQ(history.operations()[2].outcome, Outcome::kUnknown);
  EXPECT_EQ(check_linearizability(history).verdict, LinearizabilityResult::kLinearizable);

  const uint64_t fingerprint = world.fingerprint();
  Trace& trace = world.mutable_trace();
  history.annotate(trace, {1});
  EXPECT_EQ(trace.fingerprint(), fingerprint);  // annotations are not part of the run
  std::ostringstream json;
  trace.write_chrome_json(json);
  EXPECT_THAT(json.str(), HasSubstr(R"("args":{"name":"history"})"));
  EXPECT_THAT(json.str(), HasSubstr(R"("args":{"name":"client 2"})"));
  EXPECT_THAT(json.str(), HasSubstr("NOT LINEARIZABLE: read x -> '1'"));
  EXPECT_THAT(json.str(), HasSubstr("write x='2' (outcome unknown)"));
}

TEST(HistoryTest, MisuseIsAUsageErrorNamingTheOperation) {
  History h;
  const OpId write = h.invoke(1, Op::write("x", "1"));
  h.ok(write);
  EXPECT_THROW(h.ok(write), UsageError);
  EXPECT_THROW(h.fail(99), UsageError);
  const OpId cas = h.invoke(1, Op::cas("x", "1", "2"));
  EXPECT_THROW(h.ok(cas), UsageError);
  h.ok_cas(cas, true);
  try {
    h.add(1, Op::read("x"), ms(1), ms(2), Outcome::kOk);
    ADD_FAILURE() << "add() into a recorded history";
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("History::add"));
  }
  History made;
  EXPECT_THROW(made.add(1, Op::read("x"), ms(5), ms(2), Outcome::kOk), UsageError);
}

}  // namespace
}  // namespace giambio::sim
