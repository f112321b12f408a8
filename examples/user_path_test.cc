// Relative paths resolve against the directory `bazel run` was typed in.
#include "examples/user_path.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace giambio::examples {
namespace {

TEST(UserPathTest, RelativePathsResolveAgainstTheUsersDirectory) {
  ASSERT_EQ(setenv("BUILD_WORKING_DIRECTORY", "/home/me/work", 1), 0);
  EXPECT_EQ(user_path("kv9.json"), "/home/me/work/kv9.json");
  EXPECT_EQ(user_path("traces/a.json"), "/home/me/work/traces/a.json");
  EXPECT_EQ(user_path("/tmp/kv9.json"), "/tmp/kv9.json");
  EXPECT_EQ(user_path(""), "");
  ASSERT_EQ(setenv("BUILD_WORKING_DIRECTORY", "/", 1), 0);
  EXPECT_EQ(user_path("a.json"), "/a.json");
}

TEST(UserPathTest, RunDirectlyAPathStaysAsTyped) {
  ASSERT_EQ(unsetenv("BUILD_WORKING_DIRECTORY"), 0);
  EXPECT_EQ(user_path("kv9.json"), "kv9.json");
}

}  // namespace
}  // namespace giambio::examples
