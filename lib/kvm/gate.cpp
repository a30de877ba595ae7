#include "gmem/kvm/gate.hpp"

#include "gmem/kvm/kvm.hpp"

#include <sstream>
#include <unistd.h>

namespace gmem::kvm {
namespace {

using Reason = std::optional<std::string>;

std::string hex(long v) {
    std::ostringstream os;
    os << "0x" << std::hex << v;
    return os.str();
}

Reason need_kvm(const Features& f) {
    if (f.access != KvmAccess::ok) return f.kvm_unusable_reason();
    return std::nullopt;
}

Reason need_vm_type(const Features& f, unsigned long type) {
    if (auto r = need_kvm(f)) return r;
    const VmTypeInfo* t = f.vm_type(type);
    if (!t || !t->advertised)
        return vm_type_name(type) + " not offered (KVM_CAP_VM_TYPES = " +
               hex(f.system.vm_types.value_or(0)) + ")";
    if (!t->created)
        return vm_type_name(type) + " advertised but KVM_CREATE_VM failed: " +
               t->create_error.describe();
    return std::nullopt;
}

Reason need_gmem(const Features& f, unsigned long type) {
    if (auto r = need_vm_type(f, type)) return r;
    const VmTypeInfo* t = f.vm_type(type);
    if (t->caps.guest_memfd.value_or(0) == 0)
        return "KVM_CAP_GUEST_MEMFD is 0 on " + vm_type_name(type);
    if (t->caps.user_memory2.value_or(0) == 0)
        return "KVM_CAP_USER_MEMORY2 is 0 on " + vm_type_name(type);
    return std::nullopt;
}

} // namespace

Need& Need::kvm() {
    checks_.push_back(need_kvm);
    return *this;
}
Need& Need::vm_type(unsigned long type) {
    checks_.push_back([type](const Features& f) { return need_vm_type(f, type); });
    return *this;
}
Need& Need::guest_memfd(unsigned long type) {
    checks_.push_back([type](const Features& f) { return need_gmem(f, type); });
    return *this;
}
Need& Need::gmem_flags(unsigned long type, std::uint64_t flags) {
    checks_.push_back([type, flags](const Features& f) -> Reason {
        if (auto r = need_gmem(f, type)) return r;
        const long have = f.vm_type(type)->caps.guest_memfd_flags.value_or(0);
        const std::uint64_t lacking = flags & ~static_cast<std::uint64_t>(have);
        if (lacking)
            return "guest_memfd flag(s) " + gmem_flags_name(lacking) + " not offered on " +
                   vm_type_name(type) + " (KVM_CAP_GUEST_MEMFD_FLAGS = " + hex(have) + ")";
        return std::nullopt;
    });
    return *this;
}
Need& Need::memory_attributes(unsigned long type, std::uint64_t attrs) {
    checks_.push_back([type, attrs](const Features& f) -> Reason {
        if (auto r = need_vm_type(f, type)) return r;
        const long have = f.vm_type(type)->caps.memory_attributes.value_or(0);
        if ((static_cast<std::uint64_t>(have) & attrs) != attrs)
            return "KVM_CAP_MEMORY_ATTRIBUTES on " + vm_type_name(type) + " is " + hex(have) +
                   ", needs " + hex(static_cast<long>(attrs));
        return std::nullopt;
    });
    return *this;
}
Need& Need::in_place_conversion(unsigned long type) {
    checks_.push_back([type](const Features& f) -> Reason {
        if (auto r = need_gmem(f, type)) return r;
        const VmTypeInfo* t = f.vm_type(type);
        if (!t->in_place_conversion)
            return "in-place conversion absent on " + vm_type_name(type) + ": " +
                   t->conversion_evidence;
        return std::nullopt;
    });
    return *this;
}
Need& Need::thp() {
    checks_.push_back([](const Features& f) -> Reason {
        if (f.thp_enabled.empty()) return "no transparent hugepages (CONFIG_TRANSPARENT_HUGEPAGE)";
        if (f.thp_enabled == "never")
            return "transparent hugepages disabled (/sys/kernel/mm/transparent_hugepage/enabled "
                   "= never)";
        return std::nullopt;
    });
    return *this;
}
Need& Need::numa_nodes(int n) {
    checks_.push_back([n](const Features& f) -> Reason {
        if (f.numa_nodes < n)
            return "needs " + std::to_string(n) + " NUMA nodes, this machine has " +
                   std::to_string(f.numa_nodes);
        return std::nullopt;
    });
    return *this;
}
Need& Need::gup_test() {
    checks_.push_back([](const Features& f) -> Reason {
        if (!f.gup_test) return "no gup_test: " + f.gup_test_detail;
        return std::nullopt;
    });
    return *this;
}
Need& Need::io_uring() {
    checks_.push_back([](const Features& f) -> Reason {
        if (!f.io_uring) return "io_uring unavailable: " + f.io_uring_detail;
        return std::nullopt;
    });
    return *this;
}
Need& Need::root() {
    checks_.push_back([](const Features&) -> Reason {
        if (::geteuid() != 0) return "needs root (euid " + std::to_string(::geteuid()) + ")";
        return std::nullopt;
    });
    return *this;
}

Need& Need::shared_gmem(unsigned long type) {
    checks_.push_back([type](const Features& f) -> Reason {
        if (auto r = need_gmem(f, type)) return r;
        if (!f.shared_gmem(type))
            return "no shared guest_memfd on " + vm_type_name(type) +
                   ": KVM_CAP_GUEST_MEMFD_FLAGS = " +
                   hex(f.vm_type(type)->caps.guest_memfd_flags.value_or(0)) +
                   ", needs MMAP|INIT_SHARED";
        return std::nullopt;
    });
    return *this;
}
Need& Need::private_gmem(unsigned long type) {
    checks_.push_back([type](const Features& f) -> Reason {
        if (auto r = need_gmem(f, type)) return r;
        if (!f.private_gmem(type)) {
            const VmTypeInfo* t = f.vm_type(type);
            return "no private guest_memfd on " + vm_type_name(type) +
                   ": KVM_CAP_MEMORY_ATTRIBUTES = " + hex(t->caps.memory_attributes.value_or(0)) +
                   ", in-place conversion " + (t->in_place_conversion ? "present" : "absent") +
                   ", KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES (" +
                   std::to_string(f.gmem_attr_cap_nr) +
                   ") = " + hex(t->caps.guest_memfd_memory_attributes.value_or(0));
        }
        return std::nullopt;
    });
    return *this;
}

// The system answer first, so that a kernel without the ioctl names the
// capability whatever VM type the check wanted (x86.c, kvm_vm_ioctl_check_extension:
// KVM_CAP_PRE_FAULT_MEMORY answers tdp_enabled, for /dev/kvm and VMs alike).
Need& Need::pre_fault_memory(unsigned long type) {
    checks_.push_back([type](const Features& f) -> Reason {
        if (auto r = need_kvm(f)) return r;
        if (f.system.pre_fault_memory.value_or(0) == 0)
            return "KVM_CAP_PRE_FAULT_MEMORY is 0 on /dev/kvm";
        if (auto r = need_vm_type(f, type)) return r;
        if (f.vm_type(type)->caps.pre_fault_memory.value_or(0) == 0)
            return "KVM_CAP_PRE_FAULT_MEMORY is 0 on " + vm_type_name(type);
        return std::nullopt;
    });
    return *this;
}

std::optional<std::string> Need::missing() const {
    for (const auto& c : checks_)
        if (auto r = c(*f_)) return r;
    return std::nullopt;
}

} // namespace gmem::kvm
