// Random programs of pools, tasks, timeouts, shields, locks and channels, run under the
// simulator and checked for giambio's invariants (sim/random_program.h); and proof that the
// checker catches a broken invariant and shrinks the program that shows it. The sweep over
// 10,000 seeds is random_program_sweep_test.cc.
#include "sim/random_program.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio::sim {
namespace {

using ::testing::HasSubstr;
using Kind = Node::Kind;

TEST(RandomProgramTest, GenerationIsDeterministicAndVaried) {
  std::set<std::string> programs;
  int total_nodes = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const Program program = generate_program(seed);
    EXPECT_TRUE(is_valid(program)) << program.to_string();
    EXPECT_EQ(program.to_string(), generate_program(seed).to_string());
    programs.insert(program.to_string());
    total_nodes += program.size();
  }
  EXPECT_GE(programs.size(), 180u);
  EXPECT_GE(total_nodes / 200, 5) << "programs too small to exercise much";
}

TEST(RandomProgramTest, StructureRulesAreEnforced) {
  auto leaf = [](Kind kind, int64_t value = 1) { return Node{kind, value, {}}; };
  // A send outside a producer, a pool cancel outside a pool, a lock inside a lock's body.
  EXPECT_FALSE(is_valid(Program{leaf(Kind::kSend)}));
  EXPECT_FALSE(is_valid(Program{Node{Kind::kSeq, 0, {leaf(Kind::kCancelPool)}}}));
  EXPECT_FALSE(
      is_valid(Program{Node{Kind::kLock, 0, {Node{Kind::kLock, 1, {leaf(Kind::kSleep)}}}}}));
  EXPECT_TRUE(
      is_valid(Program{Node{Kind::kPool, 0, {leaf(Kind::kSleep), leaf(Kind::kCancelPool)}}}));
  const CheckResult bad = check_program(Program{leaf(Kind::kReceive)}, 1);
  EXPECT_THAT(bad.to_string(), HasSubstr("invalid program: receive 1"));
}

TEST(RandomProgramTest, HandWrittenProgramsBehave) {
  auto leaf = [](Kind kind, int64_t value) { return Node{kind, value, {}}; };
  // timeout 3ms(sleep 8ms): fires at 3 ms; a shield inside lets the body run to 8 ms.
  EXPECT_TRUE(check_program(Program{Node{Kind::kTimeout, 3, {leaf(Kind::kSleep, 8)}}}, 1).ok());
  EXPECT_TRUE(
      check_program(
          Program{Node{Kind::kTimeout, 3, {Node{Kind::kShield, 0, {leaf(Kind::kSleep, 8)}}}}}, 1)
          .ok());
  // Two failures in one pool surface together (a MultiError) and a catch absorbs both.
  const Node pool{Kind::kPool, 0, {leaf(Kind::kFail, 1), leaf(Kind::kFail, 2)}};
  EXPECT_TRUE(check_program(Program{pool}, 1).ok());
  EXPECT_TRUE(check_program(Program{Node{Kind::kCatch, 0, {pool}}}, 1).ok());
  // A channel whose consumer takes 1 of 4 items: the rest are drained, none lost.
  Node channel{Kind::kChannel, 0, {}};
  channel.children.push_back(Node{Kind::kPool, 0, {leaf(Kind::kSend, 4)}});
  channel.children.push_back(Node{Kind::kPool, 0, {leaf(Kind::kReceive, 1)}});
  EXPECT_TRUE(check_program(Program{channel}, 1).ok());
}

// Finds the first seed below `limit` where the planted bug breaks an invariant, shrinks the
// program, and prints both.
struct Caught {
  uint64_t seed;
  Program program;
  Program shrunk;
  CheckResult shrunk_result;
};
std::optional<Caught> catch_planted(PlantedBug bug, uint64_t limit) {
  for (uint64_t seed = 0; seed < limit; ++seed) {
    Program program = generate_program(seed);
    if (check_program(program, seed, bug).ok()) continue;
    Program shrunk = shrink_program(program, seed, bug);
    CheckResult result = check_program(shrunk, seed, bug);
    std::printf("seed %llu (%d nodes): %s\nshrunk (%d nodes): %s\n%s\n",
                static_cast<unsigned long long>(seed), program.size(), program.to_string().c_str(),
                shrunk.size(), shrunk.to_string().c_str(), result.to_string().c_str());
    return Caught{seed, std::move(program), std::move(shrunk), std::move(result)};
  }
  return std::nullopt;
}

bool contains(const Node& n, Kind kind) {
  if (n.kind == kind) return true;
  for (const Node& child : n.children) {
    if (contains(child, kind)) return true;
  }
  return false;
}

TEST(RandomProgramTest, APlantedLockLeakIsCaughtWithAShrunkProgram) {
  std::optional<Caught> caught = catch_planted(PlantedBug::kLockLeakedOnUnwind, 3000);
  ASSERT_TRUE(caught.has_value()) << "3000 programs did not catch the leaked lock";
  EXPECT_THAT(caught->shrunk_result.to_string(), HasSubstr("lock: lock"));
  EXPECT_LT(caught->shrunk.size(), caught->program.size());
  EXPECT_LE(caught->shrunk.size(), 6) << caught->shrunk.to_string();
  EXPECT_TRUE(contains(caught->shrunk.root, Kind::kLock));
  // The same program is fine without the bug.
  EXPECT_TRUE(check_program(caught->shrunk, caught->seed).ok());
}

TEST(RandomProgramTest, APlantedLostItemIsCaughtWithAShrunkProgram) {
  std::optional<Caught> caught = catch_planted(PlantedBug::kCountSendBeforeItReturns, 3000);
  ASSERT_TRUE(caught.has_value()) << "3000 programs did not catch the miscounted send";
  EXPECT_THAT(caught->shrunk_result.to_string(), HasSubstr("received 0 times"));
  EXPECT_LT(caught->shrunk.size(), caught->program.size());
  EXPECT_LE(caught->shrunk.size(), 8) << caught->shrunk.to_string();
  EXPECT_TRUE(check_program(caught->shrunk, caught->seed).ok());
}

}  // namespace
}  // namespace giambio::sim
