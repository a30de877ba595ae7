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

// The io exit's data sits in the kvm_run page at data_offset; it must lie
// past the fixed part of kvm_run.
inline constexpr std::size_t kvm_run_fixed_size = sizeof(kvm_run);

static_assert(offsetof(kvm_run, immediate_exit) == 1);
static_assert(offsetof(kvm_run, fail_entry.cpu) == 40);
static_assert(offsetof(kvm_run, internal.ndata) == 36);
static_assert(offsetof(kvm_run, mmio.is_write) == 52);
static_assert(offsetof(kvm_run, memory_fault.size) == 48);
static_assert(sizeof(kvm_cpuid_entry2) == 40);

} // namespace gmem::uapi
