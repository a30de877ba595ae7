// A test that hangs under a whole-second TEST_TIMEOUT, the bound real tests
// use, run by harness_slow_test as a child process (label `slow`: it waits the
// whole second). Not a CTest test.
#include "harness/harness.hpp"

#include <unistd.h>

TEST_TIMEOUT(hangs, 1, "") {
    for (;;) ::pause();
}

TEST(passes, "") { EXPECT_EQ(1 + 1, 2); }

TEST_HARNESS_MAIN
