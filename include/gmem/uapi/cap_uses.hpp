// What Linux 7.3's include/uapi/linux/kvm.h uses the capability numbers near
// KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES for, and what the in-place
// conversion series used (spec/BEHAVIORS.md CAP-07, ci/kernel-patches/
// README.md): the probe names them when a number it asks answers unlike the
// capability. Descriptions only; nothing here is asked of a kernel.
#pragma once

namespace gmem::uapi::cap {

struct Use {
    long nr;
    const char* text;
};
inline constexpr Use uses_near_gmem_attrs[] = {
    {231, "KVM_CAP_USER_MEMORY2 upstream"},
    {232, "KVM_CAP_MEMORY_FAULT_INFO upstream"},
    {233, "KVM_CAP_MEMORY_ATTRIBUTES upstream"},
    {234, "KVM_CAP_GUEST_MEMFD upstream"},
    {235, "KVM_CAP_VM_TYPES upstream"},
    {236, "KVM_CAP_PRE_FAULT_MEMORY upstream"},
    {237, "KVM_CAP_X86_APIC_BUS_CYCLES_NS upstream"},
    {238, "KVM_CAP_X86_GUEST_MODE upstream"},
    {239, "KVM_CAP_ARM_WRITABLE_IMP_ID_REGS upstream"},
    {240, "KVM_CAP_ARM_EL2 upstream"},
    {241, "KVM_CAP_ARM_EL2_E2H0 upstream"},
    {242, "KVM_CAP_RISCV_MP_STATE_RESET upstream"},
    {243, "KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED upstream"},
    {244, "KVM_CAP_GUEST_MEMFD_FLAGS upstream"},
    {245, "KVM_CAP_ARM_SEA_TO_USER upstream (Linux 7.3)"},
    {246, "KVM_CAP_S390_USER_OPEREXEC upstream (Linux 7.3)"},
    {247, "KVM_CAP_S390_KEYOP upstream (Linux 7.3)"},
    {248, "KVM_CAP_S390_VSIE_ESAMODE upstream (Linux 7.3)"},
    {249, "KVM_CAP_S390_HPAGE_2G upstream (Linux 7.3); series v7 used it"},
    {250, "KVM_CAP_PPC_COMPAT_CAPS upstream (Linux 7.3); series v8 as posted used it"},
    {251, "KVM_CAP_ARM_PMU_V3_STRICT upstream (Linux 7.3)"},
    {252, "unassigned in Linux 7.3; the v8 port onto 7.3 (ci/kernel-patches) uses it"},
};
// The highest number of the table; above it Linux 7.3 assigns nothing.
inline constexpr long uses_near_gmem_attrs_last = 252;
static_assert(uses_near_gmem_attrs[sizeof(uses_near_gmem_attrs) / sizeof(Use) - 1].nr ==
              uses_near_gmem_attrs_last);

} // namespace gmem::uapi::cap
