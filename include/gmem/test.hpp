// What a corpus test program includes: the harness, the host library, and
// REQUIRE(), which SKIPs the test with the probe's reason when a need is unmet.
#pragma once

#include "gmem/kvm/features.hpp"
#include "gmem/kvm/gate.hpp"
#include "gmem/kvm/kvm.hpp"
#include "harness/harness.hpp"

#define REQUIRE(need)                                                                              \
    do {                                                                                           \
        if (auto harness_why_ = (need).missing()) SKIP("%s", harness_why_->c_str());               \
    } while (0)
