// buggify() outside a simulation is false; with a hook installed, the hook decides and sees the
// call site.
#include "giambio/buggify.h"

#include <string>

#include "gtest/gtest.h"

namespace giambio {
namespace {

TEST(BuggifyTest, FalseOutsideASimulation) {
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(buggify());
}

TEST(BuggifyTest, AnInstalledHookDecidesAndSeesTheCallSite) {
  struct Every final : BuggifyHook {
    std::string name = "(none)";
    std::string file;
    int line = 0;
    bool fire(const char* site_name, const char* site_file, int site_line) override {
      name = site_name == nullptr ? "(none)" : site_name;
      file = site_file;
      line = site_line;
      return true;
    }
  } every;
  BuggifyHook* previous = set_buggify_hook(&every);
  const int here = __LINE__ + 1;
  const bool fired = buggify();
  EXPECT_TRUE(fired);
  EXPECT_EQ(every.name, "(none)");
  EXPECT_EQ(every.file, "giambio/buggify_test.cc");
  EXPECT_EQ(every.line, here);
  const int named_here = __LINE__ + 1;
  EXPECT_TRUE(buggify("test: a named site"));
  EXPECT_EQ(every.name, "test: a named site");
  EXPECT_EQ(every.line, named_here);
  set_buggify_hook(previous);
  EXPECT_FALSE(buggify());
  EXPECT_FALSE(buggify("test: a named site"));
}

}  // namespace
}  // namespace giambio
