// KVM definitions the guest loader needs beyond include/gmem/uapi/kvm.hpp:
// KVM_RUN's immediate_exit capability, the internal-error sub-codes and the
// bound on KVM_GET_SUPPORTED_CPUID. Same naming and checking rules as kvm.hpp.
#pragma once

#include "gmem/uapi/kvm.hpp"

namespace gmem::uapi {

namespace cap {
inline constexpr long immediate_exit = 136; // KVM_CAP_IMMEDIATE_EXIT
} // namespace cap

// kvm_run::internal.suberror for KVM_EXIT_INTERNAL_ERROR
inline constexpr u32 kvm_internal_error_emulation = 1;
inline constexpr u32 kvm_internal_error_simul_ex = 2;
inline constexpr u32 kvm_internal_error_delivery_ev = 3;
inline constexpr u32 kvm_internal_error_unexpected_exit_reason = 4;

// KVM_MAX_CPUID_ENTRIES (arch/x86/include/asm/kvm_host.h): the most entries
// KVM_GET_SUPPORTED_CPUID fills in.
inline constexpr u32 kvm_max_cpuid_entries = 256;

// KVM_ENABLE_CAP on a VM (api.rst 4.37): struct kvm_enable_cap.
struct kvm_enable_cap {
    u32 cap;
    u32 flags;
    u64 args[4];
    u8 pad[64];
};
namespace ioctl {
inline constexpr unsigned long enable_cap = ioc::make(ioc::write, kvmio, 0xa3, sizeof(kvm_enable_cap));
} // namespace ioctl

// Guest-requested conversions in the legacy model (api.rst "KVM_CAP_EXIT_HYPERCALL",
// Documentation/virt/kvm/x86/hypercalls.rst "KVM_HC_MAP_GPA_RANGE"): with bit
// 12 enabled, the guest's MAP_GPA_RANGE hypercall (rax = 12, rbx = gpa,
// rcx = number of 4 KiB pages, rdx = attributes) exits to userspace as
// KVM_EXIT_HYPERCALL with nr 12 and args[0..2] = gpa, pages, attributes;
// userspace puts the result in hypercall.ret before the next KVM_RUN.
namespace cap {
inline constexpr long exit_hypercall = 201; // KVM_CAP_EXIT_HYPERCALL
} // namespace cap
inline constexpr u64 kvm_hc_map_gpa_range = 12;
inline constexpr u64 kvm_map_gpa_range_encrypted = 1ULL << 4;
inline constexpr u64 kvm_map_gpa_range_decrypted = 0;

// The io exit's data sits in the kvm_run page at data_offset; it must lie
// past the fixed part of kvm_run.
inline constexpr std::size_t kvm_run_fixed_size = sizeof(kvm_run);

static_assert(offsetof(kvm_run, immediate_exit) == 1);
static_assert(offsetof(kvm_run, fail_entry.cpu) == 40);
static_assert(offsetof(kvm_run, internal.ndata) == 36);
static_assert(offsetof(kvm_run, mmio.is_write) == 52);
static_assert(offsetof(kvm_run, memory_fault.size) == 48);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
static_assert(sizeof(kvm_enable_cap) == 104);
static_assert(offsetof(kvm_enable_cap, args) == 8);
static_assert(ioctl::enable_cap == 0x4068AEA3);
static_assert(offsetof(kvm_run, hypercall.nr) == 32);
static_assert(offsetof(kvm_run, hypercall.args) == 40);
static_assert(offsetof(kvm_run, hypercall.ret) == 88);

} // namespace gmem::uapi
