// One probe of what the running kernel offers for guest_memfd testing: system
// and per-VM-type capabilities, creatable VM types, in-place conversion (by
// behaviour), and the config-dependent features some checks need (THP, NUMA,
// gup_test, io_uring). Tests gate on it through Need (gate.hpp); gmem-probe
// prints it.
#pragma once

#include "gmem/errno.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gmem::kvm {

// Every answer of KVM_CHECK_EXTENSION the corpus cares about, for one fd.
struct Caps {
    std::optional<long> user_memory2;
    std::optional<long> memory_fault_info;
    std::optional<long> memory_attributes;
    std::optional<long> guest_memfd;
    std::optional<long> vm_types;
    std::optional<long> pre_fault_memory;
    std::optional<long> guest_memfd_flags;
    std::optional<long> guest_memfd_memory_attributes; // at Features::gmem_attr_cap_nr
};

enum class KvmAccess { ok, missing, permission, error };

struct VmTypeInfo {
    unsigned long type = 0;
    bool advertised = false;      // bit set in KVM_CAP_VM_TYPES (type 0: always)
    bool created = false;         // KVM_CREATE_VM succeeded
    Errno create_error{};         // when it did not
    Caps caps;                    // asked on a VM of this type
    // In-place conversion, by behaviour: KVM_SET_MEMORY_ATTRIBUTES2 on a fresh
    // guest_memfd of this VM type. ENOTTY = the ioctl does not exist.
    bool conversion_probed = false;
    bool in_place_conversion = false;
    std::string conversion_evidence; // what the ioctl answered
};

struct Features {
    std::string kvm_path = "/dev/kvm";
    KvmAccess access = KvmAccess::missing;
    Errno access_error{};
    long api_version = 0;
    std::size_t page_size = 0;
    long gmem_attr_cap_nr = 0;           // capability number used for gmem attributes
    std::string gmem_attr_cap_source;    // "series v8 default", "configure", "GMEM_CAP_GMEM_ATTRS"
    Caps system;                         // asked on /dev/kvm
    std::vector<VmTypeInfo> vm_types;    // the known x86 types 0..5, in order

    // Diagnostics only: kvm module parameters when present.
    std::optional<std::string> param_vm_memory_attributes;
    std::optional<std::string> param_gmem_in_place_conversion;

    std::string thp_enabled;             // "always", "madvise", "never", "" = no THP
    std::uint64_t thp_pmd_size = 0;
    int numa_nodes = 0;
    bool gup_test = false;
    std::string gup_test_detail;         // why not, or the path
    int io_uring_disabled = -1;          // /proc/sys/kernel/io_uring_disabled; -1 = absent
    bool io_uring = false;               // io_uring_setup worked for us
    std::string io_uring_detail;
    std::string kernel_release;

    const VmTypeInfo* vm_type(unsigned long type) const;
    // Why /dev/kvm cannot be used; empty when it can.
    std::string kvm_unusable_reason() const;

    // Derived predicates, as QEMU computes them (CAP-08); false for a VM type
    // that was not created. "Shared guest_memfd": the per-VM
    // KVM_CAP_GUEST_MEMFD_FLAGS offers both MMAP and INIT_SHARED.
    bool shared_gmem(unsigned long type) const;
    // "Private guest_memfd": PRIVATE in the per-VM KVM_CAP_MEMORY_ATTRIBUTES
    // (legacy, per-VM attributes), or in-place conversion detected by behaviour
    // and PRIVATE in the guest_memfd attributes capability (at gmem_attr_cap_nr;
    // that number alone is not trusted, it is not stable across series).
    bool private_gmem(unsigned long type) const;
};

// "ok", "missing", "permission", "error" (the JSON spelling).
std::string kvm_access_name(KvmAccess a);

// Probes the running kernel. Never fails: what cannot be asked is recorded as
// absent with the reason.
Features probe(const char* kvm_path = "/dev/kvm");

// The probe of this process, done once (tests in forked children reuse the
// parent's answer only if the parent probed before forking: GMEM_TEST_MAIN in
// gmem/test.hpp does).
const Features& features();

// The capability number for KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES: the
// GMEM_CAP_GMEM_ATTRS environment variable if set and valid, else the
// configure-time value, else the newest known series number (v8: 250). A
// value that is not a whole positive number (in C syntax: 250, 0xfa) that
// fits in an int is ignored, and `source` says so.
long gmem_attr_cap_number(std::string* source = nullptr);

// Renderings for gmem-probe.
std::string to_table(const Features& f);
std::string to_json(const Features& f);

} // namespace gmem::kvm
