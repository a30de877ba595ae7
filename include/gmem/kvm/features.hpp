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
    bool conversion_probed = false; // the type has guest_memfd: the probe tried
    bool conversion_asked = false;  // ... and the ioctl answered (a guest_memfd was made)
    bool in_place_conversion = false;
    std::string conversion_evidence; // what the ioctl answered
};

// In-place conversion as a whole, by behaviour: present when
// KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd answered anything but ENOTTY on
// some VM type, absent when it answered ENOTTY on every type asked, unknown
// when it could not be asked (no /dev/kvm, no guest_memfd on any VM type).
enum class Conversion { unknown, absent, present };

// KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES has no stable number (CAP-07): the
// number configured (GMEM_CAP_GMEM_ATTRS, GMEM_CAP_GMEM_ATTRS_NR, the series
// v8 default) is asked first; when in-place conversion is present by
// behaviour but that number does not answer PRIVATE on /dev/kvm, the probe
// asks every number of [scan_first, scan_last] for the one that answers as
// the capability does with the feature on (PRIVATE on /dev/kvm, PRIVATE on a
// VM type with private memory, 0 on the others) and uses it.
struct GmemAttrCap {
    static constexpr long scan_first = 245; // above KVM_CAP_GUEST_MEMFD_FLAGS (244), ...
    static constexpr long scan_last = 300;  // ... well beyond 7.3's last (251)
    long configured = 0;
    std::string configured_source;         // as gmem_attr_cap_number() says
    bool configured_chosen = false;        // set for this kernel, not the default guess
    std::optional<long> configured_answer; // on /dev/kvm; nullopt: not asked or ioctl error
    Conversion conversion = Conversion::unknown;
    std::string conversion_evidence;       // the ioctl's answer, or why it was not asked
    bool scanned = false;
    std::vector<long> candidates;          // numbers of the scan answering as the capability
    std::optional<long> found;             // the number used instead of `configured`
    // Whether the configured number's /dev/kvm answer agrees with the
    // behaviour: PRIVATE when present, 0 when absent; nullopt when unknown.
    std::optional<bool> agrees;
    std::string summary;                   // one line for people (gmem-probe, the report)
};

struct Features {
    std::string kvm_path = "/dev/kvm";
    KvmAccess access = KvmAccess::missing;
    Errno access_error{};
    long api_version = 0;
    std::size_t page_size = 0;
    // The capability number whose answers are in Caps::guest_memfd_memory_attributes
    // (the gates and private_gmem use them): gmem_attr.found if the probe found
    // one, else the configured number; and where it came from.
    long gmem_attr_cap_nr = 0;
    std::string gmem_attr_cap_source;
    GmemAttrCap gmem_attr;               // how that number was chosen
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
    // "NOT TESTED: KVM cannot be used: <kvm_unusable_reason()>", the line
    // every tool prints when KVM cannot be used (TOOLS-06,
    // gmem/util/not_tested.hpp); empty when it can.
    std::string not_tested_line() const;
    // Why the kernel could not answer a row of the probe, as gmem-probe shows
    // it ("n/a: no /dev/kvm", "n/a: no guest_memfd ..."); empty when it could.
    // For a VM type: not created, or no guest_memfd on it.
    std::string kvm_na() const;
    std::string gmem_na(unsigned long type) const;

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
// fits in an int is ignored, and `source` says so. `chosen`: whether the
// number was chosen for this kernel (the variable or the configure-time
// value), not the default guess.
long gmem_attr_cap_number(std::string* source = nullptr, bool* chosen = nullptr);

// The x86 VM types with private memory (kvm_arch_has_private_mem():
// SW_PROTECTED, SNP, TDX), for which the capability answers PRIVATE.
bool vm_type_has_private_mem(unsigned long type);

// What upstream uses a capability number for, if the probe knows it
// ("KVM_CAP_PPC_COMPAT_CAPS in Linux 7.3"); "" when it does not.
std::string upstream_cap_use(long nr);

// Renderings for gmem-probe.
std::string to_table(const Features& f);
std::string to_json(const Features& f);

} // namespace gmem::kvm
