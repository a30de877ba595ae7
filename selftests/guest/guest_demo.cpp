// Deliberately failing guest runs, run by guest_framework_test as a child
// process (GUEST-04): each test here is one way a guest can fail, so that the
// checker can assert the exact FAIL lines and messages the harness prints for
// it. Not a CTest test; `passes` is the control that must stay PASS.
#include "gmem/guest/expect.hpp"
#include "gmem/guest/payloads.hpp"
#include "gmem/test.hpp"

using namespace gmem::guest;
using namespace std::chrono_literals;

TEST(passes, "GUEST-04") {
    REQUIRE(gmem::kvm::Need().vm_type(gmem::uapi::kvm_x86_default_vm));
    GuestVm g;
    EXPECT_GUEST_RETURNS(g.run(payload::echo, {1, 2, 3, 4, 5, 6}), 21u);
}

TEST(guest_assert_eq_fails, "GUEST-04") {
    REQUIRE(gmem::kvm::Need().vm_type(gmem::uapi::kvm_x86_default_vm));
    GuestVm g;
    EXPECT_GUEST_DONE(g.run(payload::assert_fail, {0, 41, 42}));
}

TEST(guest_assert_fails, "GUEST-04") {
    REQUIRE(gmem::kvm::Need().vm_type(gmem::uapi::kvm_x86_default_vm));
    GuestVm g;
    EXPECT_GUEST_DONE(g.run(payload::assert_fail, {1, 7, 3}));
}

TEST(guest_ud_exception, "GUEST-04") {
    REQUIRE(gmem::kvm::Need().vm_type(gmem::uapi::kvm_x86_default_vm));
    GuestVm g;
    EXPECT_GUEST_DONE(g.run(payload::fault, {0}));
}

TEST(guest_page_fault, "GUEST-04") {
    REQUIRE(gmem::kvm::Need().vm_type(gmem::uapi::kvm_x86_default_vm));
    GuestVm g;
    EXPECT_GUEST_DONE(g.run(payload::fault, {1, 0x10000000000ULL}));
}

TEST(guest_spins, "GUEST-04") {
    REQUIRE(gmem::kvm::Need().vm_type(gmem::uapi::kvm_x86_default_vm));
    GuestVm g;
    EXPECT_GUEST_DONE(g.run(payload::spin, {}, {.timeout = 200ms}));
}

TEST(guest_mmio, "GUEST-04") {
    REQUIRE(gmem::kvm::Need().vm_type(gmem::uapi::kvm_x86_default_vm));
    GuestVm g;
    EXPECT_GUEST_DONE(g.run(payload::peek, {0x80000000}));
}

TEST(guest_bad_ucall, "GUEST-04") {
    REQUIRE(gmem::kvm::Need().vm_type(gmem::uapi::kvm_x86_default_vm));
    GuestVm g;
    EXPECT_GUEST_DONE(g.run(payload::raw_ucall, {0xdead0000}));
}

TEST(guest_wrong_return, "GUEST-04") {
    REQUIRE(gmem::kvm::Need().vm_type(gmem::uapi::kvm_x86_default_vm));
    GuestVm g;
    EXPECT_GUEST_RETURNS(g.run(payload::echo, {1, 2, 3, 4, 5, 6}), 22u);
}

GMEM_TEST_MAIN
