// What a corpus test program includes: the harness, the host library,
// REQUIRE(), which SKIPs the test with the probe's reason when a need is unmet,
// and GMEM_TEST_MAIN, the main() of a program whose tests ask the probe.
#pragma once

#include "gmem/kvm/features.hpp"
#include "gmem/kvm/gate.hpp"
#include "gmem/kvm/kvm.hpp"
#include "harness/harness.hpp"

#define REQUIRE(need)                                                                              \
    do {                                                                                           \
        if (auto harness_why_ = (need).missing()) SKIP("%s", harness_why_->c_str());               \
    } while (0)

namespace gmem {

// Runs the harness after probing the kernel once, here in the parent: the
// harness forks each test, and features() caches per process, so every test
// reuses this answer instead of probing again. A test that needs another
// answer (another environment, uid or /dev) calls gmem::kvm::probe() itself.
// For a program with its own main(); the others use GMEM_TEST_MAIN.
inline int run_tests_after_probe(int argc, char** argv) {
    (void)kvm::features();
    return ::harness::main(argc, argv);
}

} // namespace gmem

// TEST_HARNESS_MAIN for the programs whose tests use /dev/kvm (REQUIRE, Need(),
// features()). A program that must never open /dev/kvm keeps TEST_HARNESS_MAIN.
#define GMEM_TEST_MAIN                                                                             \
    int main(int argc, char** argv) {                                                              \
        return ::gmem::run_tests_after_probe(argc, argv);                                          \
    }
