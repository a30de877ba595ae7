// Passing and skipped tests only: the program must exit 0.
#include "harness/harness.hpp"

TEST(passes, "") { EXPECT_EQ(2 * 2, 4); }
TEST(skips, "") { SKIP("optional"); }

TEST_HARNESS_MAIN
