// Recorded input for report_test: a program whose every test skips (exit 4).
#include "harness/harness.hpp"

TEST(needs_numa, "MMAP-09") { SKIP("needs two NUMA nodes, this machine has 1"); }

TEST(needs_mmap, "MMAP-01") { SKIP("no /dev/kvm"); }

TEST_HARNESS_MAIN
