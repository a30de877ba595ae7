// Recorded input for report_test: one test per way a test can end (pass,
// observe, fail, skip, XFAIL, XPASS, timeout, crash, unknown ID, no ID), each
// naming real behaviour IDs so the report's rows can be asserted exactly.
// Built, not registered; data/report_demo_alpha.ktap is its recorded output.
#include "harness/harness.hpp"

#include <csignal>
#include <unistd.h>

TEST(passes, "CAP-01") { EXPECT_EQ(12, 12); }

TEST(passes_and_observes, "CAP-01") { OBSERVE("api version %d", 12); }

TEST(only_observes, "CAP-02") { OBSERVE("flags 0x%x", 3); }

TEST(expect_fails, "CAP-03 CAP-04") {
    const int answer = 41;
    EXPECT_EQ(answer, 42);
}

TEST(passes_cap04, "CAP-04") { EXPECT_TRUE(true); }

TEST(skips_a, "CAP-05") { SKIP("no /dev/kvm"); }
TEST(skips_b, "CAP-05") { SKIP("KVM_X86_SW_PROTECTED_VM (1) not offered"); }
TEST(skips_a_again, "CAP-05") { SKIP("no /dev/kvm"); }

TEST(skips_cap06, "CAP-06") { SKIP("no /dev/kvm"); }
TEST(passes_cap06, "CAP-06") { EXPECT_EQ(1, 1); }

XFAIL_ADD(global, none, known_bug, "kernel bug 123");
TEST(known_bug, "CAP-07") { EXPECT_EQ(0, 1); }

XFAIL_ADD(global, none, fixed_bug, "kernel bug 456");
TEST(fixed_bug, "CAP-08") { EXPECT_EQ(1, 1); }

TEST_TIMEOUT(hangs, 1, "CREATE-01") {
    for (;;) ::pause();
}

TEST(crashes, "CREATE-02") { std::raise(SIGSEGV); }

TEST(typo_id, "CREATE-03 NOPE-99") {}

TEST(no_ids_fails, "") { EXPECT_EQ(2, 3); }

TEST(no_ids_passes, "") {}

TEST(errno_wrong, "CREATE-05") { EXPECT_ERRNO(::close(-1), EINVAL); }

TEST_HARNESS_MAIN
