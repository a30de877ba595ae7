// The KVM accelerator: QEMU's kvm_init() capability questions asked of one VM,
// kvm_create_guest_memfd() and kvm_create_guest_memfd_shared().
#include "gmem/backend/accel.hpp"

namespace gmem::backend {

long KvmAccelerator::ask(long cap) {
    ++counters_.kvm_queries;
    auto r = vm_.try_check_extension(cap);
    return r ? *r : 0; // a kernel that does not know the capability offers nothing
}

KvmAccelerator::KvmAccelerator(kvm::Vm vm, std::uint64_t gmem_flags_mask)
    : vm_(std::move(vm)), mask_(gmem_flags_mask) {
    kernel_flags_ = static_cast<std::uint64_t>(ask(uapi::cap::guest_memfd_flags));
    const bool gmem = ask(uapi::cap::guest_memfd) != 0;
    const bool mem2 = ask(uapi::cap::user_memory2) != 0;
    gmem_supported_ = gmem && mem2;
}

Result<KvmAccelerator> KvmAccelerator::open(const KvmOptions& opts) {
    auto k = kvm::Kvm::try_open(opts.kvm_path);
    if (!k) return std::unexpected(k.error());
    auto vm = k->try_create_vm(opts.vm_type);
    if (!vm) return std::unexpected(vm.error());
    return KvmAccelerator(std::move(*vm), opts.gmem_flags_mask);
}

Outcome<Fd> KvmAccelerator::create_guest_memfd(std::uint64_t size, std::uint64_t flags) {
    ++counters_.requests;
    if (!gmem_supported_) return fail(BackendError::plain(no_gmem_message));
    ++counters_.kvm_creates;
    auto g = vm_.try_create_guest_memfd(size, flags);
    if (!g) return fail(BackendError::with_errno(create_failed_message, g.error()));
    ++counters_.created;
    return Fd(g->release());
}

Outcome<Fd> KvmAccelerator::create_guest_memfd_shared(std::uint64_t size) {
    const std::uint64_t want = uapi::guest_memfd_flag_mmap | uapi::guest_memfd_flag_init_shared;
    if ((supported_gmem_flags() & want) != want) {
        ++counters_.requests;
        return fail(BackendError::plain(no_shared_message));
    }
    return create_guest_memfd(size, want);
}

} // namespace gmem::backend
