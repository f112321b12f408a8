#include "tools/simulate_flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio::sim {
namespace {

using ::testing::HasSubstr;

const std::vector<ScenarioName> kCatalog = {
    {"kv", true, {}}, {"echo", false, {}}, {"raft", true, {"stale_read", "commit_old_term"}}};

absl::StatusOr<SimulateFlags> parse(std::vector<std::string> args) {
  return parse_simulate_flags(args, kCatalog);
}

TEST(SimulateFlagsTest, NoArgumentsIsTheDefaultSweep) {
  absl::StatusOr<SimulateFlags> flags = parse({});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->scenario, "kv");
  EXPECT_FALSE(flags->seed || flags->seeds || flags->swarm || flags->bug || flags->help);
}

TEST(SimulateFlagsTest, ReadsEveryFlag) {
  absl::StatusOr<SimulateFlags> flags = parse({"--scenario=kv", "--seed=17", "--swarm", "--bug",
                                               "--trace_out=/tmp/t.json", "--simulated=5m"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->seed, 17u);
  EXPECT_TRUE(flags->swarm && flags->bug);
  EXPECT_EQ(flags->trace_out, "/tmp/t.json");
  EXPECT_EQ(flags->simulated, absl::Minutes(5));
  flags = parse({"--seeds=3..9", "--list"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->seeds, std::make_pair(uint64_t{3}, uint64_t{9}));
  EXPECT_TRUE(flags->list);
}

TEST(SimulateFlagsTest, HelpStopsBeforeOtherMistakes) {
  absl::StatusOr<SimulateFlags> flags = parse({"-h", "--frobnicate"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_TRUE(flags->help);
}

TEST(SimulateFlagsTest, EveryMistakeIsAnInvalidArgumentNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--frobnicate"}, "unknown flag '--frobnicate'"},
      {{"--swarm", ""}, "argument 2 is an empty argument"},
      {{"--scenario=nope"}, "--scenario=nope: no such scenario; expected one of kv, echo, raft"},
      {{"--scenario"}, "--scenario needs a value"},
      {{"--seed="}, "--seed needs a value"},
      {{"--seed=x"}, "--seed"},
      {{"--seed=-1"}, "--seed"},
      {{"--seeds=5..2"}, "--seeds=5..2"},
      {{"--seeds=0"}, "--seeds=0"},
      {{"--swarm=yes"}, "--swarm takes no value (got 'yes')"},
      {{"--simulated=forever"}, "--simulated=forever: expected a positive duration"},
      {{"--simulated=-1s"}, "--simulated=-1s"},
      {{"--simulated=0s"}, "--simulated=0s"},
      {{"--simulated=inf"}, "--simulated=inf"},
      {{"--seed=1", "--seeds=2"}, "--seed and --seeds exclude each other"},
      {{"--trace_out=/tmp/x.json"}, "--trace_out needs a single run"},
      {{"--scenario=echo", "--bug"}, "--bug: scenario echo has no planted bug"},
      {{"--scenario=raft", "--bug"},
       "--bug: scenario raft has several planted bugs: --bug=NAME with NAME one of stale_read, "
       "commit_old_term"},
      {{"--scenario=raft", "--bug=nope"}, "--bug=nope: scenario raft has no such bug"},
      {{"--scenario=kv", "--bug=stale_read"}, "scenario kv has one planted bug: give just --bug"},
      {{"--scenario=raft", "--bug="}, "--bug= needs a name"},
      {{"--seed=1", "--faults=0"}, "--faults=0: '0' is not a fault number"},
      {{"--seed=1", "--faults=3,x"}, "--faults=3,x: 'x' is not a fault number"},
      {{"--seed=1", "--faults=3,"}, "--faults=3,: '' is not a fault number"},
      {{"--seed=1", "--faults=9,3"}, "--faults=9,3: numbers must ascend without repeats"},
      {{"--seed=1", "--faults=3,3"}, "numbers must ascend without repeats"},
      {{"--faults=3"}, "--faults needs a single run"},
      {{"--shrink"}, "--shrink needs the failing seed"},
      {{"--seed=1", "--shrink", "--faults=2"}, "--shrink and --faults exclude each other"},
      {{"--seed=1", "--check_determinism", "--trace_out=/tmp/x.json"},
       "--check_determinism and --trace_out exclude each other"},
  };
  for (const auto& [args, message] : cases) {
    absl::StatusOr<SimulateFlags> flags = parse(args);
    ASSERT_FALSE(flags.ok()) << args[0];
    EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument) << args[0];
    EXPECT_THAT(flags.status().message(), HasSubstr(message)) << args[0];
  }
}

TEST(SimulateFlagsTest, ReplayArgumentsGiveTheSameRunBack) {
  absl::StatusOr<SimulateFlags> flags =
      parse({"--scenario=kv", "--seeds=10..20", "--swarm", "--bug", "--simulated=1.5s"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  const std::vector<std::string> args = replay_args(*flags, 12);
  EXPECT_THAT(args, ::testing::ElementsAre("--scenario=kv", "--seed=12", "--swarm", "--bug",
                                           "--simulated=1.5s"));
  absl::StatusOr<SimulateFlags> replay = parse(args);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->seed, 12u);
  EXPECT_TRUE(replay->swarm && replay->bug);
  EXPECT_EQ(replay->simulated, absl::Milliseconds(1500));

  // A named bug comes back named.
  absl::StatusOr<SimulateFlags> named = parse({"--scenario=raft", "--seed=4", "--bug=stale_read"});
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->bug_name, "stale_read");
  EXPECT_THAT(replay_args(*named, 4), ::testing::Contains("--bug=stale_read"));

  // With a fault schedule (what --shrink prints), and with none.
  absl::StatusOr<SimulateFlags> shrunk = parse({"--seed=9", "--bug", "--faults=2,7,11"});
  ASSERT_TRUE(shrunk.ok()) << shrunk.status();
  EXPECT_THAT(*shrunk->faults, ::testing::ElementsAre(2, 7, 11));
  EXPECT_THAT(replay_args(*shrunk, 9), ::testing::Contains("--faults=2,7,11"));
  absl::StatusOr<SimulateFlags> none = parse({"--seed=9", "--faults=none"});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->faults->empty());
  EXPECT_THAT(replay_args(*none, 9), ::testing::Contains("--faults=none"));
}

}  // namespace
}  // namespace giambio::sim
