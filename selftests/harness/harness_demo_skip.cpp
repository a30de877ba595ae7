// Every test skips: the program as a whole must exit 4 (kselftest SKIP).
#include "harness/harness.hpp"

FIXTURE(needs_thing) {};
FIXTURE_SETUP(needs_thing) { SKIP("the thing is missing"); }
FIXTURE_TEARDOWN(needs_thing) {}
TEST_F(needs_thing, one, "") {}
TEST_F(needs_thing, two, "") {}

TEST_HARNESS_MAIN
