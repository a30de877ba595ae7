// Recorded input for report_test: a program that dies in the middle of its
// run (its second test kills the harness's runner process), so its KTAP ends
// after a RUN line and its third test never runs.
#include "harness/harness.hpp"

#include <csignal>
#include <unistd.h>

TEST(passes, "MMAP-03") { EXPECT_EQ(1, 1); }

TEST(kills_runner, "MMAP-04") {
    ::kill(::getppid(), SIGKILL);
    ::_exit(0);
}

TEST(never_runs, "MMAP-05") {}

TEST_HARNESS_MAIN
