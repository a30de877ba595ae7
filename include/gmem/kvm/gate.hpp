// What a check needs from the running kernel, asked of the probe. missing()
// gives the first unmet need as a SKIP reason that names the capability, VM
// type, privilege or config involved; nullopt when everything is there.
//
//   if (auto why = Need().gmem_flags(type, MMAP | INIT_SHARED).missing()) SKIP(...)
// or, in tests, REQUIRE(Need().gmem_flags(...)) from gmem/test.hpp.
#pragma once

#include "gmem/kvm/features.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gmem::kvm {

class Need {
  public:
    explicit Need(const Features& f = features()) : f_(&f) {}

    Need& kvm();                                         // /dev/kvm usable
    Need& vm_type(unsigned long type);                   // advertised and creatable
    Need& guest_memfd(unsigned long type);               // GUEST_MEMFD and USER_MEMORY2 (CAP-02)
    Need& gmem_flags(unsigned long type, std::uint64_t flags); // in per-VM GUEST_MEMFD_FLAGS
    Need& memory_attributes(unsigned long type, std::uint64_t attrs); // per-VM attributes
    Need& in_place_conversion(unsigned long type);
    Need& thp();
    Need& numa_nodes(int n);
    Need& gup_test();
    Need& io_uring();
    Need& root();
    // Derived predicates (CAP-08): Features::shared_gmem / private_gmem.
    Need& shared_gmem(unsigned long type);
    Need& private_gmem(unsigned long type);
    // KVM_CAP_PRE_FAULT_MEMORY, on /dev/kvm and on a VM of this type.
    Need& pre_fault_memory(unsigned long type);

    std::optional<std::string> missing() const;

  private:
    const Features* f_;
    std::vector<std::function<std::optional<std::string>(const Features&)>> checks_;
};

} // namespace gmem::kvm
