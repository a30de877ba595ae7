// HARNESS-04 for a whole-second TEST_TIMEOUT, the bound every real test
// has: the hung test is killed at 1 s (not before, and not at this program's
// own bound), reported as "TIMEOUT 1 seconds", and the next test still runs.
// harness_test checks the same with a 0.05 s bound; this one waits the whole
// second, so it carries label `slow` and stays out of the corpus label.
#include "gmem/util/locate.hpp"
#include "gmem/util/process.hpp"
#include "gmem/util/text.hpp"
#include "harness/harness.hpp"

#include <chrono>

using gmem::util::has_line;

TEST(whole_second_timeout, "HARNESS-04") {
    const auto start = std::chrono::steady_clock::now();
    // The demo beside this program (build tree or installed tree, gmem/util/locate.hpp).
    const auto p = gmem::util::run_capture({gmem::util::helper_path("harness_demo_slow", DEMO_SLOW)},
                                           {"GMEM_KTAP_DIR="});
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(p.exit_code, 1);
    EXPECT_TRUE(has_line(p.out, "not ok 1 global.hangs # TIMEOUT 1 seconds"));
    EXPECT_TRUE(has_line(p.out, "# global.hangs: Test terminated by timeout"));
    EXPECT_TRUE(has_line(p.out, "ok 2 global.passes"));
    EXPECT_TRUE(has_line(p.out, "# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0"));
    EXPECT_GE(secs, 1.0);
    EXPECT_LT(secs, 10.0);
}

TEST_HARNESS_MAIN
